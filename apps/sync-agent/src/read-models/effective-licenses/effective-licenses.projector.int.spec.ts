import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  type Clock,
  type EffectiveLicenseSetV1,
  type EffectiveLicensesChangedV1,
  type EventEnvelope,
  type StatefulSyncChangedV1,
  type StatefulSyncStatusV1,
  type StreamPosition,
} from '#shared';
import { createTestEventStore, type TestEventStore } from '#shared/testing';
import { isShareableSku } from '../../domain/effective-licenses/effective-licenses.js';
import {
  applyEvent,
  effectiveSetOf,
  emptyProjection,
  pairStatefulSyncOf,
  type ProjectionState,
} from '../../domain/effective-licenses/projection.js';
import { History, interleave } from '../../domain/effective-licenses/testing/history.js';
import { SYNC_AGENT_MIGRATIONS } from '../../infrastructure/migrations.js';
import { effectiveLicensesStreamId, statefulSyncStreamId } from '../../domain/effective-licenses/publication.js';
import { loadWorkingSet } from '../../facts/facts-store.js';
import { projectBatch } from './effective-licenses.projector.js';
import { PublishedSetCache } from './published-store.js';

/**
 * The projector against a real schema: the SQL working set, version guards, inbox and outbox must give what the
 * pure projection gives, whatever the batches and their order.
 */

const NOW = new Date('2025-06-01T00:00:00.000Z');
const clock: Clock = { now: () => NOW };
const START = Date.parse('2025-01-01T00:00:00.000Z');
const IN_A_YEAR = '2026-01-01T00:00:00.000Z';
const [P, S, R, X, Y] = ['C0EAE4000031', 'C0EAE4000032', 'C0EAE4000033', 'C0EAE4000034', 'C0EAE4000035'] as const;
const SERIALS = [P, S, R, X, Y];

let db: TestEventStore;

beforeAll(async () => {
  db = await createTestEventStore('sync_projector', SYNC_AGENT_MIGRATIONS);
});

afterAll(async () => {
  await db?.dispose();
});

async function reset(): Promise<void> {
  await db.dataSource.query('TRUNCATE inbox, products, pairs, licenses, replacements, stateful_sync_published, events');
}

beforeEach(reset);

const project = (batch: readonly EventEnvelope[]) => projectBatch(db.store, clock, batch);

async function projectAll(batches: readonly (readonly EventEnvelope[])[]): Promise<void> {
  for (const batch of batches) await project(batch);
}

/** The sets as the query computes them now, from the stored facts, each loaded on its own as GET loads it. */
async function storedSets(serials: readonly string[] = SERIALS): Promise<Record<string, EffectiveLicenseSetV1 | null>> {
  const sets: Record<string, EffectiveLicenseSetV1 | null> = {};
  for (const serial of serials) {
    const state = await db.store.transaction((tx) => loadWorkingSet(tx, [serial]));
    sets[serial] = effectiveSetOf(state, serial, NOW);
  }
  return sets;
}

/** The sets last published (EffectiveLicensesChanged), as appliances were told. */
async function publishedSets(): Promise<Record<string, EffectiveLicenseSetV1>> {
  const rows: { serial: string; set: EffectiveLicenseSetV1 }[] = await db.dataSource.query(
    `SELECT DISTINCT ON (stream_id) data->>'serial' AS serial, data->'set' AS set FROM events
      WHERE event_type = 'EffectiveLicensesChanged' ORDER BY stream_id, stream_version DESC`,
  );
  return Object.fromEntries(rows.map((r) => [r.serial, r.set]));
}

async function outbox(): Promise<{ stream_id: string; event_type: string; data: unknown }[]> {
  return db.dataSource.query('SELECT stream_id, event_type, data FROM events ORDER BY global_position');
}

/** Every fact table and what the inbox recorded of each event, in a stable order. */
async function storedFacts(): Promise<Record<string, unknown[]>> {
  const q = (sql: string) => db.dataSource.query<unknown[]>(sql);
  return {
    products: await q('SELECT * FROM products ORDER BY serial'),
    pairs: await q('SELECT * FROM pairs ORDER BY pair_id'),
    licenses: await q('SELECT * FROM licenses ORDER BY license_id'),
    replacements: await q('SELECT * FROM replacements ORDER BY failed_serial, pair_id'),
    inbox: await q('SELECT event_id, serials FROM inbox ORDER BY event_id'),
  };
}

function replay(events: readonly EventEnvelope[]): ProjectionState {
  return events.reduce(applyEvent, emptyProjection());
}

function expectedSets(events: readonly EventEnvelope[]): Record<string, EffectiveLicenseSetV1 | null> {
  const state = replay(events);
  return Object.fromEntries(SERIALS.map((s) => [s, effectiveSetOf(state, s, NOW)]));
}

/** Splits `events` into consecutive batches of the given sizes (the rest in a last batch). */
function batchesOf(events: readonly EventEnvelope[], sizes: readonly number[]): EventEnvelope[][] {
  const batches: EventEnvelope[][] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= events.length) break;
    batches.push(events.slice(at, at + size));
    at += size;
  }
  if (at < events.length) batches.push(events.slice(at));
  return batches;
}

/** P (Primary) and S (Secondary) paired with licenses on both, then P fails and R replaces it. */
function replacementHistory() {
  const h = new History(START, 3);
  for (const serial of SERIALS) h.register(serial);
  h.associate(P, S);
  const failedLicenses = [
    h.grant(P, 'IPS', IN_A_YEAR),
    h.grant(P, 'SONICOS_ENHANCED'),
    h.grant(P, 'STATEFUL_SYNC'),
    h.grant(P, 'GMS_PREVENTIVE_MAINTENANCE', IN_A_YEAR),
  ];
  h.grant(S, 'SUPPORT_8X5', IN_A_YEAR);
  const before = h.events.length;
  const { pair } = h.replace(P, R)!;
  h.transferAll(P, S);
  return { h, before, failedLicenses, newPairId: pair.pairId };
}

describe('the effective-licenses projector', () => {
  describe('when an event arrives again', () => {
    // Positions are where the consumer got each message: the same one is a redelivery, a new one a copy.
    const at = (seq: number) => ({ stream: 'PAIRING', seq });
    const cases: {
      name: string;
      given: readonly StreamPosition[];
      when: readonly (StreamPosition | undefined)[];
      then: { redelivered: number; refused: { index: number; reason: string; detail: RegExp }[] };
    }[] = [
      {
        name: 'from the same positions: redeliveries, acknowledged',
        given: [at(3), at(12), at(8)],
        when: [at(3), at(12), at(8)],
        then: { redelivered: 3, refused: [] },
      },
      {
        name: 'from new positions: copies published again, refused as REPLAYED naming where each was applied',
        given: [at(3), at(12), at(8)],
        when: [at(3), at(40), at(41)],
        then: {
          redelivered: 1,
          refused: [
            { index: 1, reason: 'REPLAYED', detail: /was already applied from PAIRING sequence 12$/ },
            { index: 2, reason: 'REPLAYED', detail: /was already applied from PAIRING sequence 8$/ },
          ],
        },
      },
      {
        name: 'with no position (a dead-letter replay): REPLAYED',
        given: [at(3), at(12), at(8)],
        when: [undefined, undefined, undefined],
        then: {
          redelivered: 0,
          refused: [0, 1, 2].map((index) => ({ index, reason: 'REPLAYED', detail: /was already applied from PAIRING/ })),
        },
      },
    ];

    it.each(cases)('$name, and changes nothing', async ({ given, when, then }) => {
      const { h } = replacementHistory();
      const chosen = [h.events[2]!, h.events.at(-1)!, h.events[7]!];
      const rest = h.events.filter((e) => !chosen.includes(e));
      await project(rest);
      await projectBatch(db.store, clock, chosen, {}, given);
      const sets = await storedSets();
      const published = await publishedSets();
      const events = await outbox();

      const again = await projectBatch(db.store, clock, chosen, {}, when as StreamPosition[]);

      expect(again).toEqual({
        applied: 0,
        redelivered: then.redelivered,
        refused: then.refused.map((r) => ({ ...r, detail: expect.stringMatching(r.detail) })),
      });
      expect(await storedSets()).toEqual(sets);
      expect(await publishedSets()).toEqual(published);
      expect(await outbox()).toEqual(events);
    });

    it.each([1, 2, 3, 1000])(
      'within one batch (slices of %i): the same message twice is applied once, a copy from another position is REPLAYED',
      async (sliceSize) => {
        const { h } = replacementHistory();
        const first = h.events[0]!;
        expect(await projectBatch(db.store, clock, [first, first, first], { sliceSize }, [at(1), at(1), at(9)])).toEqual({
          applied: 1,
          redelivered: 1,
          refused: [{ index: 2, reason: 'REPLAYED', detail: expect.stringMatching(/already applied from PAIRING sequence 1$/) }],
        });
      },
    );

    it('an older version under a new event id is refused as STALE_VERSION and changes nothing', async () => {
      const h = new History(START, 3);
      const registered = h.register(P);
      h.changeFirmware(P, '7.1.0');
      await project(h.events);
      const sets = await storedSets();

      const staleCopy = { ...registered, eventId: '00000000-0000-4000-8000-000000000001' };
      expect(await projectBatch(db.store, clock, [staleCopy], {}, [at(50)])).toEqual({
        applied: 0,
        redelivered: 0,
        refused: [
          {
            index: 0,
            reason: 'STALE_VERSION',
            detail: `ProductRegistered version 1 of ${registered.streamId} is not newer than the version held`,
          },
        ],
      });
      expect(await storedSets()).toEqual(sets);
    });
  });

  describe('when batches arrive out of order', () => {
    it('keeps the events of one stream in their order, however a batch is sliced: none is taken for stale', async () => {
      const h = new History(START, 3);
      for (const serial of SERIALS) h.register(serial);
      await project(h.events);
      const from = h.events.length;
      h.grant(R, 'IPS', IN_A_YEAR); // R's events come first in the batch...
      const license = h.grant(X, 'GATEWAY_AV', IN_A_YEAR);
      h.transfer(license.licenseId, R); // ...and the transfer names R and X: it must not overtake the grant
      const batch = h.events.slice(from);
      expect(await projectBatch(db.store, clock, batch, { sliceSize: 2 })).toEqual({ applied: 3, redelivered: 0, refused: [] });
      expect(await storedSets()).toEqual(expectedSets(h.events));
    });

    it('converges to the in-order sets, and publishes them, for random interleavings and batch sizes', async () => {
      const { h } = replacementHistory();
      h.associate(X, R); // R moves on: re-association after the replacement
      const av = h.grant(X, 'GATEWAY_AV', IN_A_YEAR);
      h.changeFirmware(S, '3.9');
      h.transfer(av.licenseId, S); // a transfer for another reason than a replacement
      h.grant(S, 'IPS', IN_A_YEAR);
      h.transfer(h.grant(X, 'APP_CONTROL').licenseId, Y); // to a unit no pair links to X
      const inOrder = expectedSets(h.events);
      const deliveries = fc.sample(
        fc.tuple(
          fc.array(fc.boolean(), { minLength: h.events.length, maxLength: h.events.length * 2 }),
          fc.array(fc.integer({ min: 1, max: 6 }), { minLength: h.events.length, maxLength: h.events.length }),
          fc.boolean(),
          fc.integer({ min: 1, max: 8 }),
        ),
        { numRuns: 12, seed: 42 },
      );
      for (const [picks, sizes, reversed, sliceSize] of deliveries) {
        await reset();
        // Either the streams interleaved, or everything in reverse: the worst order there is. Slices of a batch
        // (each on its own working set, in the batch's transaction) must not matter either.
        const delivered = reversed ? [...h.events].reverse() : interleave(h.events, picks);
        const refused = [];
        for (const batch of batchesOf(delivered, sizes))
          refused.push(...(await projectBatch(db.store, clock, batch, { sliceSize })).refused);
        // Each stream's own order kept: nothing is stale, however the batches are cut and sliced.
        if (!reversed) expect(refused).toEqual([]);
        expect(await storedSets()).toEqual(inOrder);
        expect(await publishedSets()).toEqual(Object.fromEntries(Object.entries(inOrder).filter(([, set]) => set !== null)));
        await expectPublishedStatefulSyncToMatch(replay(h.events));
      }
    }, 120_000);
  });

  describe('when instances keep the sets they published (PublishedSetCache)', () => {
    /** Each product's newest published set and its stream version, as the outbox holds them. */
    async function newestPublished(): Promise<Map<string, { set: EffectiveLicenseSetV1; version: number }>> {
      const rows: { serial: string; set: EffectiveLicenseSetV1; version: number }[] = await db.dataSource.query(
        `SELECT DISTINCT ON (stream_id) data->>'serial' AS serial, data->'set' AS set, stream_version AS version
           FROM events WHERE event_type = 'EffectiveLicensesChanged' ORDER BY stream_id, stream_version DESC`,
      );
      return new Map(rows.map((r) => [r.serial, { set: r.set, version: r.version }]));
    }

    it('publishes what an instance without one does, though another instance publishes in between and a batch rolls back', async () => {
      const { h } = replacementHistory();
      h.associate(X, R);
      h.transfer(h.grant(X, 'GATEWAY_AV', IN_A_YEAR).licenseId, S);
      h.grant(S, 'IPS', IN_A_YEAR);
      h.grant(X, 'APP_CONTROL');
      const batches = batchesOf(h.events, [4, 3, 2, 5, 1, 3, 2]);
      await projectAll(batches);
      const withoutCache = await outbox();

      await reset();
      const instances = [new PublishedSetCache(), new PublishedSetCache()];
      // A batch that publishes and then rolls back: none of what it read or wrote may stay in a cache.
      const failing = Object.create(db.store, {
        transaction: {
          value: (work: Parameters<typeof db.store.transaction>[0]) =>
            db.store.transaction(async (tx) => {
              await work(tx);
              throw new Error('rolled back after publishing');
            }),
        },
      }) as typeof db.store;
      for (const [i, batch] of batches.entries()) {
        const publishedSets = instances[i % 2]!; // the instances take turns, so each one's cache goes stale
        if (i === 3)
          await expect(projectBatch(failing, clock, batch, { publishedSets })).rejects.toThrow('rolled back after publishing');
        await projectBatch(db.store, clock, batch, { publishedSets });
        const newest = await newestPublished();
        for (const cache of instances)
          for (const serial of SERIALS) {
            const cached = cache.get(serial);
            if (cached === undefined) continue;
            const stored = newest.get(serial);
            expect(cached.version).toBeLessThanOrEqual(stored!.version);
            if (cached.version === stored!.version) expect(cached.set).toEqual(stored!.set);
          }
      }
      expect(await outbox()).toEqual(withoutCache);
      const order: readonly string[] = SERIALS;
      expect(SERIALS.filter((serial) => instances.some((cache) => cache.get(serial)))).toEqual(
        [...(await newestPublished()).keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b)),
      );
    });

    it("takes a set it holds at the stream's version from memory, not from the outbox", async () => {
      const h = new History(START, 3);
      h.register(P);
      h.grant(P, 'IPS', IN_A_YEAR);
      const publishedSets = new PublishedSetCache();
      await projectBatch(db.store, clock, h.events, { publishedSets });
      const held = publishedSets.get(P)!;
      // What the cache holds at that version is what the projector compares with: here a doctored copy without IPS.
      publishedSets.remember(P, { set: { ...held.set, licenses: [] }, version: held.version + 1 });
      await db.dataSource.query(
        `INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, occurred_at)
         SELECT gen_random_uuid(), stream_id, stream_version + 1, event_type, schema_version, data, metadata, occurred_at
           FROM events WHERE stream_id = $1`,
        [effectiveLicensesStreamId(P)],
      );
      h.grant(P, 'APP_CONTROL', IN_A_YEAR);
      await projectBatch(db.store, clock, [h.events.at(-1)!], { publishedSets });
      const [last] = (await outbox()).filter((e) => e.stream_id === effectiveLicensesStreamId(P)).slice(-1);
      expect((last!.data as EffectiveLicensesChangedV1).added).toEqual(['APP_CONTROL', 'IPS']);
    });

    it('keeps at most its capacity, the least recently used going first', () => {
      const cache = new PublishedSetCache(2);
      const published = (serial: string, version: number) => ({ set: { serial } as EffectiveLicenseSetV1, version });
      cache.remember(P, published(P, 1));
      cache.remember(S, published(S, 1));
      cache.get(P); // P used since S
      cache.remember(R, published(R, 1));
      cache.remember(P, published(P, 0)); // an older version than kept: ignored
      expect([P, S, R].map((serial) => cache.get(serial)?.version)).toEqual([1, undefined, 1]);
    });
  });

  describe('when the rebuild projects without publishing', () => {
    it('stores the same facts and inbox as the publishing projector on the same batches, and publishes nothing', async () => {
      const { h } = replacementHistory();
      h.associate(X, R);
      h.transfer(h.grant(X, 'GATEWAY_AV', IN_A_YEAR).licenseId, S);
      h.changeFirmware(S, '3.9');
      h.revoke(h.grant(S, 'IPS', IN_A_YEAR).licenseId);
      const deliveries = fc.sample(
        fc.tuple(
          fc.array(fc.boolean(), { minLength: h.events.length, maxLength: h.events.length * 2 }),
          fc.array(fc.integer({ min: 1, max: 6 }), { minLength: h.events.length, maxLength: h.events.length }),
        ),
        { numRuns: 12, seed: 7 },
      );
      for (const [picks, sizes] of deliveries) {
        const batches = batchesOf(interleave(h.events, picks), sizes);
        await reset();
        await projectAll(batches);
        const published = await storedFacts();
        await reset();
        for (const batch of batches) await projectBatch(db.store, clock, batch, { publish: false });
        expect(await storedFacts()).toEqual(published);
        expect(await storedSets()).toEqual(expectedSets(h.events));
        expect(await outbox()).toEqual([]);
      }
    }, 120_000);
  });

  describe('when a replacement batch is split anywhere', () => {
    it('never leaves the successor without a license of the failed Primary, nor lists one twice', async () => {
      const { h, before, failedLicenses, newPairId } = replacementHistory();
      const history = h.events.slice(0, before);
      const replacement = h.events.slice(before);
      // Licensing may be faster than pairing: its transfers can come first.
      const orders = [replacement, [...replacement.slice(2), ...replacement.slice(0, 2)]];
      for (const order of orders) {
        for (let i = 0; i <= order.length; i++) {
          for (let j = i; j <= order.length; j++) {
            await reset();
            await project(history);
            for (const batch of [order.slice(0, i), order.slice(i, j), order.slice(j)]) {
              if (batch.length === 0) continue;
              await project(batch);
              const sets = await storedSets();
              const published = await publishedSets();
              for (const set of [sets[S]!, published[S]!]) {
                for (const license of failedLicenses) {
                  const listed = set.licenses.flatMap((l) => l.sources).filter((s) => s.licenseId === license.licenseId);
                  // Before the new pair is seen, S is still P's Secondary: only the shareable ones reach it (or the
                  // ones already transferred to it).
                  const held = set.pairId === newPairId || listed.some((s) => s.from === 'own');
                  expect({ split: [i, j], sku: license.sku, listed: listed.length }).toEqual({
                    split: [i, j],
                    sku: license.sku,
                    listed: held || isShareableSku(license.sku) ? 1 : 0,
                  });
                }
              }
              const newSecondary = sets[R]!;
              const ids = newSecondary.licenses.flatMap((l) => l.sources.map((s) => s.licenseId));
              expect(new Set(ids).size).toBe(ids.length);
            }
            expect(await storedSets()).toEqual(expectedSets(h.events));
          }
        }
      }
    }, 120_000);
  });

  describe('when the inbox records an event', () => {
    it('keeps the envelope, its instant and every serial it concerns, the previous holder of a transfer included', async () => {
      const { h } = replacementHistory();
      await project(h.events.slice(0, -1));
      const transfer = h.events.at(-1)!;
      await project([transfer]);

      const rows: { occurred_at: Date; serials: string[]; envelope: EventEnvelope }[] = await db.dataSource.query(
        'SELECT occurred_at, serials, envelope FROM inbox WHERE event_id = $1',
        [transfer.eventId],
      );
      expect(rows).toEqual([{ occurred_at: new Date(transfer.occurredAt), serials: [P, S], envelope: transfer }]);
      const replacement = h.events.find((e) => e.type === 'ProductsAssociated' && e.data.replaces)!;
      const [association] = await db.dataSource.query('SELECT serials FROM inbox WHERE event_id = $1', [replacement.eventId]);
      expect(association).toEqual({ serials: [P, S, R] });
    });
  });

  describe('when stateful synchronization turns on or off', () => {
    it('publishes StatefulSyncChanged for the pair, once per change, with its cause', async () => {
      const h = new History(START, 4);
      for (const serial of SERIALS) h.register(serial);
      const pair = h.associate(P, S)!;
      const sync = h.grant(P, 'STATEFUL_SYNC');
      const downgrade = h.changeFirmware(S, '3.9')!;
      h.changeFirmware(S, '4.0');
      const { pair: replacing } = h.replace(P, R)!;
      h.transferAll(P, S);
      h.dissociate(S);

      for (const event of h.events) await project([event]);
      await project(h.events); // redelivered: nothing new

      const changes = (await outbox())
        .filter((e) => e.event_type === 'StatefulSyncChanged')
        .map((e) => {
          const { pairId, enabled, reason, cause } = e.data as StatefulSyncChangedV1;
          return { stream: e.stream_id, pairId, enabled, reason, cause: cause.type };
        });
      const on = { enabled: true, reason: null };
      expect(changes).toEqual([
        {
          stream: statefulSyncStreamId(pair.pairId),
          pairId: pair.pairId,
          enabled: false,
          reason: 'NOT_LICENSED',
          cause: 'ProductsAssociated',
        },
        { stream: statefulSyncStreamId(pair.pairId), pairId: pair.pairId, ...on, cause: 'EntitlementChanged' },
        {
          stream: statefulSyncStreamId(pair.pairId),
          pairId: pair.pairId,
          enabled: false,
          reason: 'FIRMWARE_TOO_OLD',
          cause: 'ProductFirmwareChanged',
        },
        { stream: statefulSyncStreamId(pair.pairId), pairId: pair.pairId, ...on, cause: 'ProductFirmwareChanged' },
        // The replacement: the old pair ends, the new pair keeps the failed Primary's STATEFUL_SYNC license.
        {
          stream: statefulSyncStreamId(pair.pairId),
          pairId: pair.pairId,
          enabled: false,
          reason: 'NOT_PAIRED',
          cause: 'ProductsAssociated',
        },
        { stream: statefulSyncStreamId(replacing.pairId), pairId: replacing.pairId, ...on, cause: 'ProductsAssociated' },
        {
          stream: statefulSyncStreamId(replacing.pairId),
          pairId: replacing.pairId,
          enabled: false,
          reason: 'NOT_PAIRED',
          cause: 'ProductsDissociated',
        },
      ]);
      const causes = (await outbox())
        .filter((e) => e.event_type === 'StatefulSyncChanged')
        .map((e) => (e.data as StatefulSyncChangedV1).cause.eventId);
      expect(causes[1]).toBe(
        h.events.find((e) => e.type === 'EntitlementChanged' && e.data.license.licenseId === sync.licenseId)!.eventId,
      );
      expect(causes[2]).toBe(downgrade.eventId);
    });
  });

  describe('when several events are applied together', () => {
    it('publishes one EffectiveLicensesChanged per set that lists every cause in order, the last as `cause`', async () => {
      const h = new History(START, 5);
      h.register(P);
      h.register(S);
      const grants = [h.grant(P, 'IPS', IN_A_YEAR), h.grant(P, 'GATEWAY_AV', IN_A_YEAR)];
      await project(h.events); // one batch: two registrations, two grants
      const grantIds = grants.map(
        (g) => h.events.find((e) => e.type === 'EntitlementChanged' && e.data.license.licenseId === g.licenseId)!.eventId,
      );
      const published = (await outbox())
        .filter((e) => e.event_type === 'EffectiveLicensesChanged')
        .map((e) => e.data as EffectiveLicensesChangedV1);
      const ofP = published.filter((d) => d.serial === P);
      expect(ofP).toHaveLength(1);
      expect(ofP[0]!.causes!.map((c) => c.eventId)).toEqual([h.events[0]!.eventId, ...grantIds]);
      expect(ofP[0]!.cause).toEqual(ofP[0]!.causes!.at(-1));
      expect(ofP[0]!.changedFields).toEqual(['role', 'peerSerial', 'pairId', 'licenses', 'statefulSync']);
    });

    it('names the fields that changed, and leaves the SKU deltas empty when only the role, peer or stateful sync did', async () => {
      const h = new History(START, 6);
      h.register(P);
      h.register(S);
      await project(h.events);
      const before = (await outbox()).length;
      h.associate(P, S); // neither has a license: only role, peer, pair (and the stateful-sync reason) change
      await project(h.events.slice(-1));
      const published = (await outbox())
        .slice(before)
        .filter((e) => e.event_type === 'EffectiveLicensesChanged')
        .map((e) => e.data as EffectiveLicensesChangedV1);
      expect(published.map((d) => d.serial).sort()).toEqual([P, S]);
      for (const d of published) {
        expect([d.added, d.removed, d.changed]).toEqual([[], [], []]);
        expect(d.changedFields).toEqual(['role', 'peerSerial', 'pairId', 'statefulSync']);
        expect(d.causes).toEqual([{ eventId: h.events.at(-1)!.eventId, type: 'ProductsAssociated' }]);
      }
    });
  });

  describe('when a published set is larger than the TOAST threshold', () => {
    it('is stored compressed with lz4 in the outbox, and reads back whole', async () => {
      const h = new History(START, 3);
      h.register(P);
      h.register(S);
      h.associate(P, S);
      for (let i = 0; i < 40; i++) h.grant(P, i % 2 === 0 ? 'IPS' : 'GATEWAY_AV', IN_A_YEAR);
      await project(h.events);
      const rows: { outbox: string | null; sources: number }[] = await db.dataSource.query(
        `SELECT pg_column_compression(data) AS outbox, jsonb_array_length(data->'set'->'licenses'->0->'sources') AS sources
           FROM events WHERE stream_id = 'effective-licenses-' || $1::text ORDER BY stream_version DESC LIMIT 1`,
        [S],
      );
      expect(rows).toEqual([{ outbox: 'lz4', sources: 20 }]);
    });
  });

  describe('when an effective set is published', () => {
    it('names the events behind each source, and flags entries expiring within the window', async () => {
      const h = new History(START, 5);
      for (const serial of [P, S]) h.register(serial);
      const pair = h.associate(P, S)!;
      const soon = h.grant(P, 'IPS', '2025-06-10T00:00:00.000Z');
      await project(h.events);

      const set = (await publishedSets())[S]!;
      const associationId = h.events.find((e) => e.type === 'ProductsAssociated')!.eventId;
      const grantId = h.events.at(-1)!.eventId;
      expect(set).toEqual(
        expect.objectContaining({
          pairId: pair.pairId,
          licenses: [
            expect.objectContaining({
              sku: 'IPS',
              expiringSoon: true,
              sources: [
                {
                  from: 'primary',
                  serial: P,
                  licenseId: soon.licenseId,
                  expiresAt: soon.expiresAt,
                  eventIds: [grantId, associationId],
                },
              ],
            }),
          ],
        }),
      );
      const [latest] = await db.dataSource.query(
        'SELECT data FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1',
        [effectiveLicensesStreamId(S)],
      );
      expect((latest as { data: { set: unknown } }).data.set).toEqual(set);
    });
  });
});

/**
 * The stateful-sync status last published per pair is the final one, except that a pair which ended while off
 * is left as it was last announced.
 */
async function expectPublishedStatefulSyncToMatch(state: ProjectionState): Promise<void> {
  const rows: { pair_id: string; enabled: boolean; reason: StatefulSyncStatusV1['reason'] }[] = await db.dataSource.query(
    'SELECT pair_id, enabled, reason FROM stateful_sync_published',
  );
  const published = new Map(rows.map((r) => [r.pair_id, { enabled: r.enabled, reason: r.reason }]));
  for (const pairId of state.pairs.keys()) {
    const expected = pairStatefulSyncOf(state, pairId, NOW);
    const actual = published.get(pairId);
    if (expected.reason === 'NOT_PAIRED')
      expect({ pairId, enabled: actual?.enabled ?? false }).toEqual({ pairId, enabled: false });
    else expect({ pairId, status: actual }).toEqual({ pairId, status: expected });
  }
}
