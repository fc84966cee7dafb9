import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import {
  busNames,
  ensureDurableConsumer,
  ensureEventStream,
  type BusNames,
  type EventEnvelope,
  type PublishedEvent,
} from '#shared';
import { createTestEventStore, deleteStreams, testBusNamespace, type TestEventStore } from '#shared/testing';
import { applyEvent, emptyProjection } from '../../domain/effective-licenses/projection.js';
import { SYNC_AGENT_MIGRATIONS } from '../../infrastructure/migrations.js';
import { saveChangedFacts } from '../../facts/facts-store.js';
import { projectionConsumers } from '../../facts/projection-consumers.js';
import { associatedPairsPage, readConsumerLag, serialsOfPair } from './failover-readiness.query.js';

const A1 = 'C0EAE4000001';
const A2 = 'C0EAE4000002';
const A3 = 'C0EAE4000003';
const A4 = 'C0EAE4000004';
const B1 = 'C0EAE4000011';
const B2 = 'C0EAE4000012';
const PAIR_A12 = '00000000-0000-4000-8000-000000000012';
const PAIR_A34 = '00000000-0000-4000-8000-000000000034';
const PAIR_B12 = '00000000-0000-4000-8000-0000000000b1';

let ids = 0;
function envelope(streamId: string, streamVersion: number, occurredAt: string, event: PublishedEvent): EventEnvelope {
  const eventId = `00000000-0000-4000-9000-${(++ids).toString(16).padStart(12, '0')}`;
  const metadata = { correlationId: null, causationId: null };
  return { eventId, schemaVersion: 1, streamId, streamVersion, occurredAt, metadata, ...event };
}
const registered = (serial: string, accountId: string) =>
  envelope(`product-${serial}`, 1, '2025-01-01T00:00:00.000Z', {
    type: 'ProductRegistered',
    data: { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId, registeredAt: '2025-01-01T00:00:00.000Z' },
  });
const pairData = (pairId: string, primarySerial: string, secondarySerial: string, accountId: string, associatedAt: string) => ({
  pairId,
  primarySerial,
  secondarySerial,
  model: 'NSA 2700',
  accountId,
  associatedAt,
});
const associated = (pairId: string, primary: string, secondary: string, accountId: string, at: string) =>
  envelope(`pair-${pairId}`, 1, at, { type: 'ProductsAssociated', data: pairData(pairId, primary, secondary, accountId, at) });
const dissociated = (pairId: string, primary: string, secondary: string, accountId: string, associatedAt: string) =>
  envelope(`pair-${pairId}`, 2, '2025-05-01T00:00:00.000Z', {
    type: 'ProductsDissociated',
    data: { ...pairData(pairId, primary, secondary, accountId, associatedAt), dissociatedAt: '2025-05-01T00:00:00.000Z' },
  });

describe('reading the pairs to check from PostgreSQL', () => {
  let db: TestEventStore;

  beforeAll(async () => {
    db = await createTestEventStore('sync_readiness', SYNC_AGENT_MIGRATIONS);
    const state = [
      registered(A1, 'acct-a'),
      registered(A2, 'acct-a'),
      registered(A3, 'acct-a'),
      registered(A4, 'acct-a'),
      registered(B1, 'acct-b'),
      registered(B2, 'acct-b'),
      associated(PAIR_A34, A3, A4, 'acct-a', '2025-03-01T00:00:00.000Z'),
      associated(PAIR_A12, A1, A2, 'acct-a', '2025-02-01T00:00:00.000Z'),
      associated(PAIR_B12, B1, B2, 'acct-b', '2025-02-01T00:00:00.000Z'),
      dissociated(PAIR_B12, B1, B2, 'acct-b', '2025-02-01T00:00:00.000Z'),
    ].reduce((s, e) => applyEvent(s, e), emptyProjection());
    await db.store.transaction((tx) => saveChangedFacts(tx, emptyProjection(), state));
  });

  afterAll(async () => {
    await db?.dispose();
  });

  it('finds the serials of a pair, or nothing for an unknown pair', async () => {
    expect(await db.store.transaction((tx) => serialsOfPair(tx, PAIR_A12))).toEqual({ primarySerial: A1, secondarySerial: A2 });
    expect(await db.store.transaction((tx) => serialsOfPair(tx, '00000000-0000-4000-8000-0000000000ff'))).toBeNull();
  });

  it('lists the associated pairs of an account, oldest association first, without dissociated ones', async () => {
    const a12 = { pairId: PAIR_A12, primarySerial: A1, secondarySerial: A2, accountId: 'acct-a' };
    const a34 = { pairId: PAIR_A34, primarySerial: A3, secondarySerial: A4, accountId: 'acct-a' };
    const page = (accountId: string | null, after: readonly [string, string] | null, limit = 10) =>
      db.store.transaction((tx) => associatedPairsPage(tx, accountId, after, limit));
    expect(await page('acct-a', null)).toEqual([expect.objectContaining(a12), expect.objectContaining(a34)]);
    expect(await page(null, null)).toEqual([expect.objectContaining(a12), expect.objectContaining(a34)]);
    expect(await page('acct-b', null)).toEqual([]);
    expect(await page('acct-nobody', null)).toEqual([]);
    // Keyset: the page after the first pair holds the second only.
    const [first] = await page('acct-a', null, 1);
    expect(first).toEqual(expect.objectContaining(a12));
    expect(await page('acct-a', [first!.associatedAt, first!.pairId])).toEqual([expect.objectContaining(a34)]);
  });
});

describe('reading how far the sync agent’s consumers are behind', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let names: BusNames;

  beforeAll(async () => {
    nc = await connect({ servers: 'nats://127.0.0.1:4222', name: 'readiness-int' });
    jsm = await jetstreamManager(nc);
    names = busNames(testBusNamespace('readiness'));
    await ensureEventStream(jsm, names, 'pairing');
    await ensureEventStream(jsm, names, 'licensing');
    for (const spec of projectionConsumers(names)) await ensureDurableConsumer(jsm, spec);
  });

  afterAll(async () => {
    if (nc) {
      await deleteStreams(nc, names);
      await nc.close();
    }
  });

  it('reports nothing pending while the streams are empty', async () => {
    expect(await readConsumerLag(jsm, projectionConsumers(names))).toEqual([
      { stream: names.stream('pairing'), pending: 0, ackPending: 0 },
      { stream: names.stream('licensing'), pending: 0, ackPending: 0 },
    ]);
  });

  it('counts the events waiting, and those delivered but not acknowledged yet', async () => {
    const js = jetstream(nc);
    const subject = `${names.namespace}.pairing.v1.product-registered.${A1}`;
    for (let i = 0; i < 3; i++) await js.publish(subject, '{}');
    const [pairing] = projectionConsumers(names);

    expect((await readConsumerLag(jsm, [pairing!]))[0]).toEqual({ stream: names.stream('pairing'), pending: 3, ackPending: 0 });

    const consumer = await js.consumers.get(pairing!.stream, pairing!.durable);
    const message = await consumer.next({ expires: 5_000 });
    expect(message).not.toBeNull();
    expect((await readConsumerLag(jsm, [pairing!]))[0]).toEqual({ stream: names.stream('pairing'), pending: 2, ackPending: 1 });
    await message!.ackAck();
  });

  it('reports why a consumer could not be read', async () => {
    const [lag] = await readConsumerLag(jsm, [{ stream: names.stream('pairing'), durable: 'nobody' }]);
    expect(lag).toEqual({ stream: names.stream('pairing'), error: expect.stringMatching(/consumer not found/i) });
  });
});
