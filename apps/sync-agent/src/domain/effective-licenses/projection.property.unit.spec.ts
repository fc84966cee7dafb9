import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  EffectiveLicenseSetV1,
  parseEnvelope,
  type EventEnvelope,
  type LicenseStateV1,
  type LicensingEvent,
  type PairingEvent,
  type ProductsAssociatedV1,
} from '#shared/contracts';
import { isSameEffectiveSet } from './effective-licenses.js';
import { affectedSerials, applyEvent, effectiveSetOf, emptyProjection, type ProjectionState } from './projection.js';

/**
 * The sync agent receives pairing and licensing events in any order, some more than once. These properties
 * generate a plausible history, deliver it shuffled with duplicates, and check that the projection ends where
 * in-order delivery ends, and that `affectedSerials` never misses a serial whose set changed on the way.
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
  | { kind: 'revoke'; license: number };

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

function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

function instant(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Plays the plan the way the pairing and licensing services would: a product joins at most one pair at a time
 * (associating a paired product dissociates its old pair first), only active licenses are renewed or revoked,
 * and every aggregate's stream numbers its events from 1.
 */
function playOut(plan: Plan): History {
  const serials = SERIALS.slice(0, plan.firmware.length);
  const events: EventEnvelope[] = [];
  const versions = new Map<string, number>();
  const pairs = new Map<string, ProductsAssociatedV1>();
  const licenses: LicenseStateV1[] = [];
  let ids = 0;
  let clock = START;

  const emit = (streamId: string, event: PairingEvent | LicensingEvent): void => {
    const streamVersion = (versions.get(streamId) ?? 0) + 1;
    versions.set(streamId, streamVersion);
    const metadata = { correlationId: null, causationId: null };
    events.push({
      eventId: uuid(++ids),
      schemaVersion: 1,
      streamId,
      streamVersion,
      occurredAt: instant(clock),
      metadata,
      ...event,
    });
  };
  const tick = (): string => instant((clock += 60_000));
  const serialAt = (index: number): string => serials[index % serials.length] as string;
  const dissociate = (serial: string): void => {
    const pair = pairs.get(serial);
    if (pair === undefined) return;
    pairs.delete(pair.primarySerial);
    pairs.delete(pair.secondarySerial);
    emit(`pair-${pair.pairId}`, { type: 'ProductsDissociated', data: { ...pair, dissociatedAt: tick() } });
  };
  const expiresAt = (expiry: Expiry): string | null => (expiry === null ? null : instant(NOW.getTime() + expiry));
  const changeLicense = (index: number, change: 'renewed' | 'revoked', patch: Partial<LicenseStateV1>): void => {
    const current = licenses[index % Math.max(licenses.length, 1)];
    if (current === undefined || current.status !== 'active') return;
    const license = { ...current, ...patch };
    licenses[licenses.indexOf(current)] = license;
    emit(`license-${license.licenseId}`, { type: 'EntitlementChanged', data: { change, license, changedAt: instant(clock) } });
  };

  const firmware = new Map<string, string>();
  serials.forEach((serial, i) => {
    const firmwareVersion = plan.firmware[i] as string;
    firmware.set(serial, firmwareVersion);
    emit(`product-${serial}`, {
      type: 'ProductRegistered',
      data: { serial, model: plan.model, firmwareVersion, accountId: 'acme', registeredAt: tick() },
    });
  });

  for (const op of plan.ops) {
    switch (op.kind) {
      case 'firmware': {
        const serial = serialAt(op.product);
        const previousFirmwareVersion = firmware.get(serial) as string;
        if (previousFirmwareVersion === op.firmwareVersion) break;
        firmware.set(serial, op.firmwareVersion);
        const data = {
          serial,
          model: plan.model,
          accountId: 'acme',
          previousFirmwareVersion,
          firmwareVersion: op.firmwareVersion,
          changedAt: tick(),
        };
        emit(`product-${serial}`, { type: 'ProductFirmwareChanged', data });
        break;
      }
      case 'associate': {
        const primarySerial = serialAt(op.primary);
        const secondarySerial = serialAt(op.secondary);
        if (primarySerial === secondarySerial) break;
        dissociate(primarySerial);
        dissociate(secondarySerial);
        const pair = {
          pairId: uuid(++ids),
          primarySerial,
          secondarySerial,
          model: plan.model,
          accountId: 'acme',
          associatedAt: tick(),
        };
        pairs.set(primarySerial, pair);
        pairs.set(secondarySerial, pair);
        emit(`pair-${pair.pairId}`, { type: 'ProductsAssociated', data: pair });
        break;
      }
      case 'dissociate':
        dissociate(serialAt(op.product));
        break;
      case 'grant': {
        const grantedAt = tick();
        const license: LicenseStateV1 = {
          licenseId: uuid(++ids),
          serial: serialAt(op.product),
          sku: op.sku,
          trial: op.trial,
          expiresAt: expiresAt(op.expiry),
          status: 'active',
          grantedAt,
          revokedAt: null,
        };
        licenses.push(license);
        emit(`license-${license.licenseId}`, {
          type: 'EntitlementChanged',
          data: { change: 'granted', license, changedAt: grantedAt },
        });
        break;
      }
      case 'renew':
        tick();
        changeLicense(op.license, 'renewed', { expiresAt: expiresAt(op.expiry) });
        break;
      case 'revoke':
        changeLicense(op.license, 'revoked', { status: 'revoked', revokedAt: tick() });
        break;
      default:
        throw new Error(`unknown op ${JSON.stringify(op satisfies never)}`);
    }
  }
  return { serials, events };
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

    it("names every serial whose set an event changed among that event's affected serials", () => {
      fc.assert(
        fc.property(delivery, ({ history: { serials }, delivered }) => {
          let state = emptyProjection();
          for (const envelope of delivered) {
            const next = applyEvent(state, envelope);
            const changed = serials.filter((s) => !sameOrBothNull(effectiveSetOf(state, s, NOW), effectiveSetOf(next, s, NOW)));
            // The application layer may ask before or after storing the event; both must cover the change.
            expect(affectedSerials(state, envelope)).toEqual(expect.arrayContaining(changed));
            expect(affectedSerials(next, envelope)).toEqual(expect.arrayContaining(changed));
            state = next;
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
