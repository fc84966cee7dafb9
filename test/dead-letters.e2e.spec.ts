import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { busNames, type BusNames } from '#shared/contracts';
import { EVENT_KEY_ID_HEADER } from '#shared';
import { storeFixedCauseDeadLetter } from './support/dead-letters.js';
import {
  NATS_URL,
  api,
  eventually,
  randomSerial,
  startSystem,
  type Api,
  type Json,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(60_000);

const SYNC_TIMEOUT_MS = 15_000;

let system: RunningSystem;
let licensing: Api;
let syncAgent: Api;
let nc: NatsConnection;
let js: JetStreamClient;
let names: BusNames;

const { register } = driver(() => system, 'acct-dlq');

beforeAll(async () => {
  system = await startSystem('dead_letters');
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
  nc = await connect({ servers: NATS_URL });
  js = jetstream(nc);
  names = busNames(system.namespace);
});

afterAll(async () => {
  await nc?.close();
  await system?.stop();
});

/** The letters a service lists, once `ready` holds for them. */
function listed(service: Api, query: string, ready: (items: Json[]) => boolean): Promise<Json[]> {
  return eventually(
    async () => {
      const response = await service.get<Json>(`/dead-letters${query}`);
      expect(response.status).toBe(200);
      const items = response.body.items as Json[];
      if (!ready(items)) throw new Error(`not yet: ${JSON.stringify(response.body)}`);
      return items;
    },
    { timeoutMs: SYNC_TIMEOUT_MS, description: `GET /dead-letters${query}` },
  );
}

function effectiveSetShows(serial: string) {
  return eventually(async () => (await syncAgent.get(`/products/${serial}/effective-licenses`)).status === 200, {
    timeoutMs: SYNC_TIMEOUT_MS,
    description: `the sync agent to know ${serial}`,
  });
}

describe('a poison message on the pairing stream', () => {
  let poisonSubject: string;
  let syncAgentLetter: Json;

  it('is dead-lettered by each consumer that reads it, while valid traffic keeps flowing', async () => {
    poisonSubject = `${names.subjectsOfType('ProductsAssociated').slice(0, -1)}${randomSerial()}`;
    await js.publish(poisonSubject, '{"eventId": "this is not json');
    const serial = await register();
    await effectiveSetShows(serial);

    [syncAgentLetter] = await listed(syncAgent, '', (items) => items.length === 1);
    expect(syncAgentLetter).toMatchObject({
      consumer: 'sync-agent',
      reason: 'MALFORMED_JSON',
      subject: poisonSubject,
      stream: names.stream('pairing'),
      deliveries: 1,
      body: '{"eventId": "this is not json',
      replayedAt: null,
    });
    // Licensing's transfer consumer reads ProductsAssociated too, so it has its own copy.
    const [licensingLetter] = await listed(licensing, '', (items) => items.length === 1);
    expect(licensingLetter).toMatchObject({ consumer: 'licensing', reason: 'MALFORMED_JSON', subject: poisonSubject });

    const metrics = await syncAgent.get<string>('/metrics');
    expect(metrics.body).toMatch(
      /ha_license_sync_dead_lettered_total\{[^}]*consumer="sync-agent"[^}]*reason="MALFORMED_JSON"[^}]*\} 1\b/,
    );
  });

  it('is listed with filters and refused with 422 on replay while it is still poison, staying listed', async () => {
    expect((await syncAgent.get<Json>('/dead-letters?consumer=licensing')).body).toEqual({ items: [], nextBefore: null });
    expect((await syncAgent.get<Json>('/dead-letters?reason=SCHEMA_VIOLATION')).body.items).toEqual([]);
    expect((await syncAgent.get<Json>('/dead-letters?reason=MALFORMED_JSON&limit=1')).body.items).toHaveLength(1);

    const replay = await syncAgent.post<Json>(`/dead-letters/${syncAgentLetter.id as number}/replay`);
    expect(replay.status).toBe(422);
    expect(replay.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(replay.body).toMatchObject({ status: 422, code: 'DEAD_LETTER_STILL_INVALID' });
    expect(replay.body.detail).toContain('MALFORMED_JSON');
    const after = (await syncAgent.get<{ items: { id: number }[] }>('/dead-letters')).body.items;
    expect(after.map((l) => l.id)).toEqual([syncAgentLetter.id]);
  });

  it('answers bad requests and unknown letters with problems', async () => {
    expect((await syncAgent.get<Json>('/dead-letters?limit=0')).body).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((await syncAgent.get<Json>('/dead-letters?reason=LOST')).body).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
    });
    expect((await syncAgent.post<Json>('/dead-letters/abc/replay')).body).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
    });
    expect((await syncAgent.post<Json>('/dead-letters/987654321/replay')).body).toMatchObject({
      status: 404,
      code: 'DEAD_LETTER_NOT_FOUND',
    });
  });
});

describe('a dead letter whose cause has since been fixed', () => {
  it('is applied by a replay through the consumer, leaves the listing, and cannot be replayed twice', async () => {
    // An earlier deployment that did not know ProductRegistered v1 yet dead-lettered this event (signed by pairing,
    // as every event must be); this one does.
    const serial = randomSerial();
    const { envelope, keyId, streamSequence } = await storeFixedCauseDeadLetter(js, names, serial, 'acct-dlq');
    const [letter] = await listed(syncAgent, '?reason=UNKNOWN_EVENT_TYPE', (items) => items.length === 1);
    expect(letter).toMatchObject({
      streamSequence,
      headers: { 'Nats-Msg-Id': [envelope.eventId], [EVENT_KEY_ID_HEADER]: [keyId] },
    });
    expect((await syncAgent.get(`/products/${serial}/effective-licenses`)).status).toBe(404);

    const replay = await syncAgent.post<Json>(`/dead-letters/${letter.id as number}/replay`);
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ id: letter.id, reason: 'UNKNOWN_EVENT_TYPE', replayedAt: expect.any(String) });
    expect((await syncAgent.get<Json>(`/products/${serial}/effective-licenses`)).body).toMatchObject({
      serial,
      role: 'standalone',
    });
    expect((await syncAgent.get<Json>('/dead-letters?reason=UNKNOWN_EVENT_TYPE')).body.items).toEqual([]);

    const again = await syncAgent.post<Json>(`/dead-letters/${letter.id as number}/replay`);
    expect(again.body).toMatchObject({ status: 409, code: 'DEAD_LETTER_ALREADY_REPLAYED' });
  });
});
