/**
 * Replacing a failed unit of an HA pair (RMA) through POST /pairs/:pairId/replacements, against the real
 * services: the roles in the new pair, the old pair's end, who may be paired afterwards, every rule error
 * with proof that a rejected request changes nothing, and the order of the two events on the PAIRING stream.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { busNames, type EventEnvelope } from '#shared/contracts';
import { TEST_DATABASE, streamMessages } from '#shared/testing';
import {
  NATS_URL,
  api,
  eventually,
  randomSerial,
  startSystem,
  type Api,
  type ApiResponse,
  type Json,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';
import { expectProblem } from './support/problems.js';

jest.setTimeout(60_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const ACCOUNT = 'acct-rma';

let system: RunningSystem;
let pairing: Api;
let nc: NatsConnection;
let jsm: JetStreamManager;
let db: pg.Client;

const { register, pair } = driver(() => system, ACCOUNT);

beforeAll(async () => {
  system = await startSystem('pair-replace');
  pairing = api(system.pairing);
  nc = await connect({ servers: NATS_URL });
  jsm = await jetstreamManager(nc);
  db = new pg.Client({
    host: '127.0.0.1',
    port: 5432,
    user: 'postgres',
    database: TEST_DATABASE,
    options: `-c search_path=${system.schemas.pairing}`,
  });
  await db.connect();
}, 60_000);

afterAll(async () => {
  await db?.end();
  await nc?.close();
  await system?.stop();
}, 60_000);

function replace(pairId: string, failedSerial: string, replacementSerial: string): Promise<ApiResponse> {
  return pairing.post(`/pairs/${pairId}/replacements`, { failedSerial, replacementSerial });
}

async function pairIdOf(serial: string): Promise<string | null> {
  const response = await pairing.get(`/products/${serial}`);
  expect(response.status).toBe(200);
  return response.body.pairId as string | null;
}

/** Everything a replacement could change: the pair as GET shows it, the products' pairs, the stored events. */
async function observe(pairId: string, serials: readonly string[]): Promise<Json> {
  const rows: { n: string }[] = (await db.query('SELECT count(*) AS n FROM events')).rows;
  return {
    pair: (await pairing.get(`/pairs/${pairId}`)).body,
    products: await Promise.all(serials.map(async (serial) => (await pairing.get(`/products/${serial}`)).body)),
    events: Number(rows[0]!.n),
  };
}

/** The product can still form a pair: with a fresh unit of its model and account. */
async function expectFreeToPair(serial: string, model = 'NSA 2700', accountId = ACCOUNT): Promise<void> {
  const partner = await register({ model, accountId });
  expect((await pairing.post('/pairs', { primarySerial: partner, secondarySerial: serial })).status).toBe(201);
}

/** Every event the relay has published on the namespace's PAIRING stream, with its stream sequence. */
async function pairingMessages(): Promise<{ seq: number; subject: string; envelope: EventEnvelope }[]> {
  const messages = await streamMessages(jsm, busNames(system.namespace).stream('pairing'));
  return messages.map((m) => ({ seq: m.seq, subject: m.subject, envelope: m.json<EventEnvelope>() }));
}

describe('replacing a failed Primary', () => {
  let old: { pairId: string; primary: string; secondary: string };
  let replacement: string;
  let created: ApiResponse;

  beforeAll(async () => {
    old = await pair();
    replacement = await register();
    created = await replace(old.pairId, old.primary, replacement);
  });

  it('answers 201 with the new pair: the old Secondary as Primary (and successor), the replacement as Secondary', async () => {
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      pairId: expect.stringMatching(UUID),
      primarySerial: old.secondary,
      secondarySerial: replacement,
      model: 'NSA 2700',
      accountId: ACCOUNT,
      status: 'associated',
      associatedAt: expect.stringMatching(ISO_INSTANT),
      dissociatedAt: null,
      replaces: { pairId: old.pairId, failedSerial: old.primary, replacementSerial: replacement, successorSerial: old.secondary },
    });
    expect(created.body.pairId).not.toBe(old.pairId);
    expect((await pairing.get(`/pairs/${created.body.pairId}`)).body).toEqual(created.body);
  });

  it('dissociates the old pair, naming the pair that replaced it, at the instant of the new association', async () => {
    const read = await pairing.get(`/pairs/${old.pairId}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      pairId: old.pairId,
      primarySerial: old.primary,
      secondarySerial: old.secondary,
      model: 'NSA 2700',
      accountId: ACCOUNT,
      status: 'dissociated',
      associatedAt: expect.stringMatching(ISO_INSTANT),
      dissociatedAt: created.body.associatedAt,
      replacedBy: created.body.pairId,
    });
  });

  it('moves the memberships: the failed unit is free, the successor and the replacement are in the new pair', async () => {
    expect(await pairIdOf(old.primary)).toBeNull();
    expect(await pairIdOf(old.secondary)).toBe(created.body.pairId);
    expect(await pairIdOf(replacement)).toBe(created.body.pairId);
  });

  it('refuses to pair the successor or the replacement elsewhere', async () => {
    const other = await register();
    expectProblem(await pairing.post('/pairs', { primarySerial: old.secondary, secondarySerial: other }), 409, 'ALREADY_PAIRED');
    expectProblem(await pairing.post('/pairs', { primarySerial: other, secondarySerial: replacement }), 409, 'ALREADY_PAIRED');
    expect(await pairIdOf(other)).toBeNull();
  });

  it('refuses a second replacement on the old pair with 409 PAIR_DISSOCIATED', async () => {
    const another = await register();
    expectProblem(await replace(old.pairId, old.secondary, another), 409, 'PAIR_DISSOCIATED');
    expect(await pairIdOf(another)).toBeNull();
  });

  it('publishes the new pair’s ProductsAssociated before the old pair’s ProductsDissociated on the PAIRING stream', async () => {
    const newPairId = created.body.pairId as string;
    const [associated, dissociated] = await eventually(
      async () => {
        const messages = await pairingMessages();
        const a = messages.find((m) => m.envelope.type === 'ProductsAssociated' && m.envelope.streamId === `pair-${newPairId}`);
        const d = messages.find((m) => m.envelope.type === 'ProductsDissociated' && m.envelope.streamId === `pair-${old.pairId}`);
        return a && d ? ([a, d] as const) : null;
      },
      { timeoutMs: 15_000, intervalMs: 200, description: 'both replacement events on the PAIRING stream' },
    );

    expect(associated.seq).toBeLessThan(dissociated.seq);
    expect(associated.subject).toBe(`${system.namespace}.pairing.v1.products-associated.${replacement}`);
    expect(associated.envelope).toEqual(
      expect.objectContaining({
        streamVersion: 1,
        data: expect.objectContaining({
          pairId: newPairId,
          primarySerial: old.secondary,
          secondarySerial: replacement,
          replaces: {
            pairId: old.pairId,
            failedSerial: old.primary,
            replacementSerial: replacement,
            successorSerial: old.secondary,
          },
        }),
      }),
    );
    expect(dissociated.subject).toBe(`${system.namespace}.pairing.v1.products-dissociated.${old.secondary}`);
    expect(dissociated.envelope).toEqual(
      expect.objectContaining({
        streamVersion: 2,
        data: expect.objectContaining({ pairId: old.pairId, replaces: null, replacedBy: newPairId }),
      }),
    );
    // One transaction: both carry the same instant.
    expect(dissociated.envelope.occurredAt).toBe(associated.envelope.occurredAt);
  });

  it('lets the failed unit be paired again afterwards', async () => {
    await expectFreeToPair(old.primary);
  });
});

describe('replacing a failed Secondary', () => {
  it('keeps the Primary, makes the replacement the Secondary and successor, and frees the failed Secondary', async () => {
    const old = await pair();
    const replacement = await register();

    const created = await replace(old.pairId, old.secondary, replacement);

    expect(created.status).toBe(201);
    expect(created.body).toEqual(
      expect.objectContaining({
        pairId: expect.stringMatching(UUID),
        primarySerial: old.primary,
        secondarySerial: replacement,
        status: 'associated',
        replaces: {
          pairId: old.pairId,
          failedSerial: old.secondary,
          replacementSerial: replacement,
          successorSerial: replacement,
        },
      }),
    );
    const newPairId = created.body.pairId as string;
    expect((await pairing.get(`/pairs/${old.pairId}`)).body).toEqual(
      expect.objectContaining({ status: 'dissociated', replacedBy: newPairId }),
    );
    expect(await pairIdOf(old.primary)).toBe(newPairId);
    expect(await pairIdOf(replacement)).toBe(newPairId);
    expect(await pairIdOf(old.secondary)).toBeNull();

    const other = await register();
    expectProblem(await pairing.post('/pairs', { primarySerial: other, secondarySerial: replacement }), 409, 'ALREADY_PAIRED');
    expectProblem(await pairing.post('/pairs', { primarySerial: old.primary, secondarySerial: other }), 409, 'ALREADY_PAIRED');
    await expectFreeToPair(old.secondary);
  });

  it('shows no replaces / replacedBy on a pair that was formed and ended plainly', async () => {
    const { pairId } = await pair();
    const created = await pairing.get(`/pairs/${pairId}`);
    expect(created.body).not.toHaveProperty('replaces');
    const ended = await pairing.delete(`/pairs/${pairId}`);
    expect(ended.status).toBe(200);
    expect(ended.body).not.toHaveProperty('replaces');
    expect(ended.body).not.toHaveProperty('replacedBy');
  });

  it('can replace a unit of a pair that was itself formed by a replacement', async () => {
    const first = await pair();
    const r1 = await register();
    const second = (await replace(first.pairId, first.secondary, r1)).body.pairId as string;
    const r2 = await register();

    const third = await replace(second, first.primary, r2);

    expect(third.status).toBe(201);
    expect(third.body).toEqual(
      expect.objectContaining({
        primarySerial: r1,
        secondarySerial: r2,
        replaces: { pairId: second, failedSerial: first.primary, replacementSerial: r2, successorSerial: r1 },
      }),
    );
    expect((await pairing.get(`/pairs/${second}`)).body).toEqual(
      expect.objectContaining({
        status: 'dissociated',
        replacedBy: third.body.pairId,
        replaces: expect.objectContaining({ pairId: first.pairId }),
      }),
    );
  });
});

describe('a rejected replacement changes nothing', () => {
  it('answers 404 PAIR_NOT_FOUND for an unknown pair', async () => {
    const unit = await register();
    const replacement = await register();
    const unknown = '9b2f3c4d-1a2b-4c3d-8e4f-5a6b7c8d9e0f';
    const before = await observe(unknown, [unit, replacement]);

    expectProblem(await replace(unknown, unit, replacement), 404, 'PAIR_NOT_FOUND');

    expect(await observe(unknown, [unit, replacement])).toEqual(before);
    await expectFreeToPair(replacement);
  });

  it('answers 409 PAIR_DISSOCIATED for a dissociated pair', async () => {
    const old = await pair();
    expect((await pairing.delete(`/pairs/${old.pairId}`)).status).toBe(200);
    const replacement = await register();
    const before = await observe(old.pairId, [old.primary, old.secondary, replacement]);

    expectProblem(await replace(old.pairId, old.primary, replacement), 409, 'PAIR_DISSOCIATED');

    expect(await observe(old.pairId, [old.primary, old.secondary, replacement])).toEqual(before);
    await expectFreeToPair(replacement);
  });

  it.each([
    ['UNIT_NOT_IN_PAIR when the failed unit is not in the pair', 'stranger', 'fresh', 'UNIT_NOT_IN_PAIR'],
    ['SAME_PRODUCT when the replacement is the failed unit itself', 'primary', 'primary', 'SAME_PRODUCT'],
    ['SAME_PRODUCT when the replacement is the other unit', 'primary', 'secondary', 'SAME_PRODUCT'],
    ['MODEL_MISMATCH for a replacement of another model', 'primary', 'other-model', 'MODEL_MISMATCH'],
    ['ACCOUNT_MISMATCH for a replacement of another account', 'secondary', 'other-account', 'ACCOUNT_MISMATCH'],
  ] as const)('answers 409 %s', async (_case, failed, replacementKind, code) => {
    const old = await pair();
    const stranger = await register();
    const model = replacementKind === 'other-model' ? 'NSA 4700' : 'NSA 2700';
    const accountId = replacementKind === 'other-account' ? 'acct-elsewhere' : ACCOUNT;
    const units = { primary: old.primary, secondary: old.secondary, stranger };
    const replacement =
      replacementKind === 'primary' || replacementKind === 'secondary'
        ? units[replacementKind]
        : await register({ model, accountId });
    const watched = [old.primary, old.secondary, stranger, replacement];
    const before = await observe(old.pairId, watched);

    const response = await replace(old.pairId, units[failed], replacement);

    expectProblem(response, 409, code);
    expect(await observe(old.pairId, watched)).toEqual(before);
    expect(before.pair.status).toBe('associated');
    if (replacement !== old.primary && replacement !== old.secondary) await expectFreeToPair(replacement, model, accountId);
    await expectFreeToPair(stranger);
  });

  it('answers 404 PRODUCT_NOT_FOUND for an unregistered replacement', async () => {
    const old = await pair();
    const ghost = randomSerial();
    const before = await observe(old.pairId, [old.primary, old.secondary]);

    const response = await replace(old.pairId, old.primary, ghost);

    expectProblem(response, 404, 'PRODUCT_NOT_FOUND');
    expect(response.body.detail).toContain(ghost);
    expect(await observe(old.pairId, [old.primary, old.secondary])).toEqual(before);
    expectProblem(await pairing.get(`/products/${ghost}`), 404, 'PRODUCT_NOT_FOUND');
  });

  it('answers 409 ALREADY_PAIRED for a replacement that is in another pair, and keeps both pairs', async () => {
    const old = await pair();
    const busy = await pair();
    const before = await observe(old.pairId, [old.primary, old.secondary, busy.primary, busy.secondary]);
    const busyBefore = (await pairing.get(`/pairs/${busy.pairId}`)).body;

    const response = await replace(old.pairId, old.primary, busy.secondary);

    expectProblem(response, 409, 'ALREADY_PAIRED');
    expect(response.body.detail).toContain(busy.pairId);
    expect(await observe(old.pairId, [old.primary, old.secondary, busy.primary, busy.secondary])).toEqual(before);
    expect((await pairing.get(`/pairs/${busy.pairId}`)).body).toEqual(busyBefore);
  });

  it.each([
    ['a malformed failed serial', { failedSerial: 'nope', replacementSerial: '0123456789AB' }, 'failedSerial'],
    ['a missing replacement serial', { failedSerial: '0123456789AB' }, 'replacementSerial'],
    ['an unknown field', { failedSerial: '0123456789AB', replacementSerial: '0123456789AC', force: true }, ''],
  ])('answers 400 VALIDATION_FAILED for %s', async (_case, body, field) => {
    const old = await pair();
    const before = await observe(old.pairId, [old.primary, old.secondary]);

    const response = await pairing.post(`/pairs/${old.pairId}/replacements`, body);

    expectProblem(response, 400, 'VALIDATION_FAILED');
    if (field) expect(response.body.errors).toEqual([{ field, message: expect.any(String) }]);
    expect(await observe(old.pairId, [old.primary, old.secondary])).toEqual(before);
  });

  it('answers 400 VALIDATION_FAILED for a pair id that is not a UUID', async () => {
    const response = await pairing.post('/pairs/not-a-uuid/replacements', {
      failedSerial: '0123456789AB',
      replacementSerial: '0123456789AC',
    });

    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual([{ field: 'pairId', message: expect.any(String) }]);
  });
});

describe('concurrent replacements of one pair', () => {
  it('lets exactly one win; the other sees PAIR_DISSOCIATED and its replacement stays free', async () => {
    const old = await pair();
    const a = await register();
    const b = await register();

    const results = await Promise.all([replace(old.pairId, old.primary, a), replace(old.pairId, old.secondary, b)]);

    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const winner = results.find((r) => r.status === 201)!;
    const loser = results.find((r) => r.status === 409)!;
    expectProblem(loser, 409, 'PAIR_DISSOCIATED');
    expect((await pairing.get(`/pairs/${old.pairId}`)).body.replacedBy).toBe(winner.body.pairId);
    const loserReplacement = winner.body.secondarySerial === a ? b : a;
    expect(await pairIdOf(loserReplacement)).toBeNull();
    await expectFreeToPair(loserReplacement);
  });
});
