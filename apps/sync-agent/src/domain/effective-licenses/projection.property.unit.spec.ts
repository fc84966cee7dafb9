import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { EffectiveLicenseSetV1, parseEnvelope, type EventEnvelope } from '#shared/contracts';
import { changedFieldsOf, isSameEffectiveSet } from './effective-licenses.js';
import {
  affectedSerials,
  applyEvent,
  applyEvents,
  effectiveSetOf,
  emptyProjection,
  pairStatefulSyncOf,
  projectionOf,
  type ProjectionState,
} from './projection.js';
import { History as HistoryBuilder } from './testing/history.js';
import { Publisher } from './testing/publisher.js';

/**
 * The sync agent receives pairing and licensing events in any order, some more than once. These properties
 * generate a plausible history, deliver it shuffled with duplicates, and check that the projection ends where
 * in-order delivery ends, that `affectedSerials` never misses a serial whose set changed on the way, and that what
 * decidePublication tells subscribers, batch after batch, is what the projection holds.
 */

const NOW = new Date('2025-06-01T00:00:00.000Z');
const START = Date.parse('2025-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const SERIALS = ['C0EAE4000001', 'C0EAE4000002', 'C0EAE4000003', 'C0EAE4000004'] as const;
const FIRMWARE = ['3.9', '4.0', '4.2.1', '7.0.1'] as const;
// Shareable, consulting, pair-wide and unknown SKUs, so that every sharing rule is exercised.
const SKUS = ['SONICOS_ENHANCED', 'GATEWAY_AV', 'GMS_PREVENTIVE_MAINTENANCE', 'STATEFUL_SYNC', 'SOMETHING_NEW'] as const;
// Expiries around the fixed `now`: already expired, expiring exactly at now, still valid, perpetual.
const EXPIRIES = [-30 * DAY, 0, 1, 30 * DAY, 365 * DAY, null] as const;

type Expiry = (typeof EXPIRIES)[number];

type Op =
  | { kind: 'firmware'; product: number; firmwareVersion: string }
  | { kind: 'associate'; primary: number; secondary: number }
  | { kind: 'dissociate'; product: number }
  | { kind: 'grant'; product: number; sku: string; trial: boolean; expiry: Expiry }
  | { kind: 'renew'; license: number; expiry: Expiry }
  | { kind: 'revoke'; license: number }
  | { kind: 'replace'; failed: number; replacement: number }
  | { kind: 'transfer-replaced' }
  | { kind: 'transfer'; license: number; to: number }
  | { kind: 'warn'; license: number }
  | { kind: 'record-expiry'; license: number };

interface Plan {
  readonly model: string;
  readonly firmware: readonly string[];
  readonly ops: readonly Op[];
}

interface History {
  readonly serials: readonly string[];
  /** In the order the publishers produced them: a valid causal order. */
  readonly events: readonly EventEnvelope[];
}

/**
 * Plays the plan the way the pairing and licensing services would (see testing/history.ts). Licensing reacts
 * to a replacement by transferring the failed unit's licenses when a `transfer-replaced` op comes, so that
 * other events may happen in between; a `transfer` moves one license for any other reason.
 */
function playOut(plan: Plan): History {
  const serials = SERIALS.slice(0, plan.firmware.length);
  const h = new HistoryBuilder(START);
  const serialAt = (index: number): string => serials[index % serials.length] as string;
  const licenseAt = (index: number): string | undefined => h.licenses[index % Math.max(h.licenses.length, 1)]?.licenseId;
  const expiresAt = (expiry: Expiry): string | null => (expiry === null ? null : new Date(NOW.getTime() + expiry).toISOString());
  const pendingTransfers: { failedSerial: string; successorSerial: string }[] = [];

  serials.forEach((serial, i) => h.register(serial, plan.model, plan.firmware[i]));
  for (const op of plan.ops) {
    const license = 'license' in op ? licenseAt(op.license) : undefined;
    switch (op.kind) {
      case 'firmware':
        h.changeFirmware(serialAt(op.product), op.firmwareVersion);
        break;
      case 'associate':
        h.associate(serialAt(op.primary), serialAt(op.secondary));
        break;
      case 'dissociate':
        h.dissociate(serialAt(op.product));
        break;
      case 'grant':
        h.grant(serialAt(op.product), op.sku, expiresAt(op.expiry), op.trial);
        break;
      case 'renew':
        if (license !== undefined) h.renew(license, expiresAt(op.expiry));
        break;
      case 'revoke':
        if (license !== undefined) h.revoke(license);
        break;
      case 'replace': {
        const failedSerial = serialAt(op.failed);
        const replaced = h.replace(failedSerial, serialAt(op.replacement));
        if (replaced !== null) pendingTransfers.push({ failedSerial, successorSerial: replaced.successorSerial });
        break;
      }
      case 'transfer-replaced':
        for (const { failedSerial, successorSerial } of pendingTransfers.splice(0)) h.transferAll(failedSerial, successorSerial);
        break;
      case 'transfer':
        if (license !== undefined) h.transfer(license, serialAt(op.to));
        break;
      case 'warn':
        if (license !== undefined) h.warn(license);
        break;
      case 'record-expiry':
        if (license !== undefined) h.recordExpiry(license);
        break;
      default:
        throw new Error(`unknown op ${JSON.stringify(op satisfies never)}`);
    }
  }
  return { serials, events: h.events };
}

const index = fc.nat({ max: SERIALS.length - 1 });
const expiry = fc.constantFrom(...EXPIRIES);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('firmware' as const),
      product: index,
      firmwareVersion: fc.constantFrom(...FIRMWARE),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('associate' as const), primary: index, secondary: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dissociate' as const), product: index }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('grant' as const),
      product: index,
      sku: fc.constantFrom(...SKUS),
      trial: fc.boolean(),
      expiry,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('renew' as const), license: fc.nat(), expiry }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), license: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replace' as const), failed: index, replacement: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('transfer-replaced' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('transfer' as const), license: fc.nat(), to: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('warn' as const), license: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('record-expiry' as const), license: fc.nat() }) },
);

const history: fc.Arbitrary<History> = fc
  .record({
    model: fc.constantFrom('NSA 2700', 'NSA 2700', 'NSA 4700', 'TZ 370'),
    firmware: fc.array(fc.constantFrom(...FIRMWARE), { minLength: 2, maxLength: SERIALS.length }),
    ops: fc.array(op, { minLength: 3, maxLength: 25 }),
  })
  // Every history starts with a pair, as the interesting histories do; later ops may break it up or re-pair.
  .map((plan) => playOut({ ...plan, ops: [{ kind: 'associate', primary: 0, secondary: 1 }, ...plan.ops] }));

/** The history, plus the same events delivered shuffled and with some of them repeated. */
const delivery = history.chain((h) =>
  fc
    .tuple(
      fc.shuffledSubarray([...h.events], { minLength: h.events.length, maxLength: h.events.length }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }),
    )
    .map(([shuffled, repeats]) => {
      const delivered = [...shuffled];
      for (const [which, where] of repeats) {
        delivered.splice(where % (delivered.length + 1), 0, h.events[which % h.events.length] as EventEnvelope);
      }
      return { history: h, delivered };
    }),
);

const RUNS = { numRuns: 200 };

function replay(events: readonly EventEnvelope[]): ProjectionState {
  return events.reduce(applyEvent, emptyProjection());
}

function sameOrBothNull(a: EffectiveLicenseSetV1 | null, b: EffectiveLicenseSetV1 | null): boolean {
  return a === null || b === null ? a === b : isSameEffectiveSet(a, b);
}

describe('the effective licenses projection', () => {
  describe('when events arrive shuffled and duplicated', () => {
    it('computes the same effective set for every serial as in-order delivery', () => {
      fc.assert(
        fc.property(delivery, ({ history: { serials, events }, delivered }) => {
          const inOrder = replay(events);
          const shuffled = replay(delivered);
          for (const serial of serials) {
            expect(effectiveSetOf(shuffled, serial, NOW)).toEqual(effectiveSetOf(inOrder, serial, NOW));
          }
        }),
        RUNS,
      );
    });

    it('ends in the same projection state as in-order delivery', () => {
      fc.assert(
        fc.property(delivery, ({ history: { events }, delivered }) => {
          expect(replay(delivered)).toEqual(replay(events));
        }),
        RUNS,
      );
    });

    it('folds a batch to the same state, and the same changes per event, as one event at a time', () => {
      fc.assert(
        fc.property(delivery, ({ delivered }) => {
          const { state, folded } = applyEvents(emptyProjection(), delivered);
          expect(state).toEqual(replay(delivered));
          let one = emptyProjection();
          delivered.forEach((envelope, i) => {
            const next = applyEvent(one, envelope);
            const affected =
              next === one ? [] : [...new Set([...affectedSerials(one, envelope), ...affectedSerials(next, envelope)])].sort();
            expect(folded[i]).toEqual({ event: envelope, applied: next !== one, affected });
            one = next;
          });
        }),
        RUNS,
      );
    });

    it('keeps its indexes equal to ones rebuilt from the facts', () => {
      fc.assert(
        fc.property(delivery, ({ delivered }) => {
          const state = replay(delivered);
          expect(state).toEqual(projectionOf(state));
        }),
        RUNS,
      );
    });

    it("names every serial whose set an event changed among that event's affected serials", () => {
      fc.assert(
        fc.property(delivery, ({ history: { serials }, delivered }) => {
          let state = emptyProjection();
          for (const envelope of delivered) {
            const next = applyEvent(state, envelope);
            const changed = serials.filter((s) => !sameOrBothNull(effectiveSetOf(state, s, NOW), effectiveSetOf(next, s, NOW)));
            // Judged on the state before the event: only it knows where a transferred license was.
            expect(affectedSerials(state, envelope)).toEqual(expect.arrayContaining(changed));
            state = next;
          }
        }),
        RUNS,
      );
    });

    it('never lists a license twice in any set, nor in two sets at once except as a Primary’s shared license', () => {
      fc.assert(
        fc.property(delivery, ({ history: { serials }, delivered }) => {
          let state = emptyProjection();
          for (const envelope of delivered) {
            state = applyEvent(state, envelope);
            const owners = new Map<string, string>();
            for (const serial of serials) {
              const ids = (effectiveSetOf(state, serial, NOW)?.licenses ?? []).flatMap((l) =>
                l.sources.map((s) => ({ from: s.from, id: s.licenseId })),
              );
              expect(new Set(ids.map((i) => i.id)).size).toBe(ids.length);
              for (const { from, id } of ids) {
                if (from !== 'own') continue;
                expect({ id, ownedBy: owners.get(id) ?? serial }).toEqual({ id, ownedBy: serial });
                owners.set(id, serial);
              }
            }
          }
        }),
        RUNS,
      );
    });
  });

  describe('when the delivery is projected in batches and published', () => {
    /** The delivery cut into batches at the given places (as the consumer's pulls and the projector's slices cut it). */
    const batched = fc.tuple(delivery, fc.array(fc.nat({ max: 80 }), { maxLength: 6 })).map(([{ history, delivered }, cuts]) => {
      const at = [...new Set([0, ...cuts.map((c) => c % (delivered.length + 1)), delivered.length])].sort((a, b) => a - b);
      return { history, batches: at.slice(1).map((end, i) => delivered.slice(at[i], end)) };
    });

    it('tells subscribers after every batch the set each product has, at consecutive versions, each stream once a batch', () => {
      fc.assert(
        fc.property(batched, ({ history: { serials }, batches }) => {
          // A stream's version out of turn throws in Publisher, as a version conflict would in the event store.
          const publisher = new Publisher(NOW);
          for (const batch of batches) {
            const { effectiveSets, statefulSync } = publisher.project(batch);
            const streams = [...effectiveSets, ...statefulSync].map((c) => c.streamId);
            expect(new Set(streams).size).toBe(streams.length);
            for (const change of effectiveSets) expect(change.event.data.changedFields).not.toEqual([]);
            for (const serial of serials) {
              const set = effectiveSetOf(publisher.state, serial, NOW);
              const told = publisher.sets.get(serial)?.set ?? null;
              expect({ serial, differs: set === null || told === null ? set !== told : changedFieldsOf(told, set) }).toEqual({
                serial,
                differs: set === null ? false : [],
              });
            }
          }
        }),
        RUNS,
      );
    });

    it('ends every pair’s stateful sync where in-order delivery does, telling an ended pair off only if it was on', () => {
      fc.assert(
        fc.property(batched, ({ history: { events }, batches }) => {
          const publisher = new Publisher(NOW);
          for (const batch of batches) publisher.project(batch);
          const inOrder = replay(events);
          for (const pairId of inOrder.pairs.keys()) {
            const status = pairStatefulSyncOf(inOrder, pairId, NOW);
            const told = publisher.statefulSync.get(pairId)?.status;
            if (status.reason === 'NOT_PAIRED')
              expect({ pairId, enabled: told?.enabled ?? false }).toEqual({ pairId, enabled: false });
            else expect({ pairId, told }).toEqual({ pairId, told: status });
          }
        }),
        RUNS,
      );
    });
  });

  describe('when a history is generated', () => {
    it('builds envelopes the contracts accept and sets that satisfy the output contract', () => {
      fc.assert(
        fc.property(history, ({ serials, events }) => {
          for (const envelope of events) expect(parseEnvelope(JSON.stringify(envelope))).toEqual(envelope);
          const state = replay(events);
          for (const serial of serials)
            expect(() => EffectiveLicenseSetV1.parse(effectiveSetOf(state, serial, NOW))).not.toThrow();
        }),
        { numRuns: 50 },
      );
    });
  });
});
