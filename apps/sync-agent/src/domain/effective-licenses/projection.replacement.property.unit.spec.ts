import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isLicenseUsableAt, type EffectiveLicenseSetV1, type EventEnvelope } from '#shared/contracts';
import { isShareableSku } from './effective-licenses.js';
import { applyEvent, effectiveSetOf, emptyProjection, type ProjectionState } from './projection.js';
import { History, interleave } from './testing/history.js';

/**
 * Replacement (RMA) and re-association, the two flows where a unit changes hands. The sync agent
 * receives pairing's events in the PAIRING stream's order and licensing's in the LICENSING stream's order, but
 * the two streams interleave arbitrarily (licensing's transfers may arrive before the replacement they follow),
 * and any event may come again. These properties check that such deliveries end where in-order delivery ends,
 * and that at no instant a license of the failed unit is missing from its successor or counted twice.
 */

const NOW = new Date('2025-06-01T00:00:00.000Z');
const START = Date.parse('2025-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const [P, S, R, X] = ['C0EAE4000021', 'C0EAE4000022', 'C0EAE4000023', 'C0EAE4000024'] as const;
const SKUS = ['SONICOS_ENHANCED', 'GATEWAY_AV', 'IPS', 'GMS_PREVENTIVE_MAINTENANCE', 'STATEFUL_SYNC', 'SOMETHING_NEW'] as const;
const EXPIRIES = [-30 * DAY, 1, 30 * DAY, 365 * DAY, null] as const;
const RUNS = { numRuns: 150 };

type Expiry = (typeof EXPIRIES)[number];

const expiresAt = (expiry: Expiry): string | null => (expiry === null ? null : new Date(NOW.getTime() + expiry).toISOString());

/** A license operation of licensing, on the unit `on` (0 = P, 1 = S, 2 = R) or on the license `license`. */
type LicenseOp =
  | { kind: 'grant'; on: number; sku: string; expiry: Expiry }
  | { kind: 'renew'; license: number; expiry: Expiry }
  | { kind: 'revoke'; license: number }
  | { kind: 'warn'; license: number };

const licenseOp: fc.Arbitrary<LicenseOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('grant' as const),
      on: fc.nat({ max: 2 }),
      sku: fc.constantFrom(...SKUS),
      expiry: fc.constantFrom(...EXPIRIES),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('renew' as const), license: fc.nat(), expiry: fc.constantFrom(...EXPIRIES) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), license: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('warn' as const), license: fc.nat() }) },
);

function play(h: History, ops: readonly LicenseOp[]): void {
  for (const op of ops) {
    const license = 'license' in op ? h.licenses[op.license % Math.max(h.licenses.length, 1)] : undefined;
    if (op.kind === 'grant') h.grant([P, S, R][op.on] as string, op.sku, expiresAt(op.expiry));
    else if (license === undefined) continue;
    else if (op.kind === 'renew') h.renew(license.licenseId, expiresAt(op.expiry));
    else if (op.kind === 'revoke') h.revoke(license.licenseId);
    else h.warn(license.licenseId);
  }
}

interface Replacement {
  readonly events: readonly EventEnvelope[];
  readonly failed: string;
  readonly successor: string;
  /** The licenses the failed unit held when it was replaced. */
  readonly failedLicenses: readonly string[];
  /** The new pair's association, which carries `replaces`. */
  readonly association: EventEnvelope;
  /** The pair the failed unit was in. */
  readonly oldAssociation: EventEnvelope;
}

/**
 * P (Primary) and S (Secondary) paired, licenses granted, then the Primary or the Secondary fails and R replaces
 * it; licensing transfers the failed unit's licenses after some more license operations (before and after).
 */
const replacement: fc.Arbitrary<Replacement> = fc
  .record({
    failedRole: fc.constantFrom('primary', 'secondary'),
    before: fc.array(licenseOp, { minLength: 1, maxLength: 10 }),
    between: fc.array(licenseOp, { maxLength: 4 }),
    after: fc.array(licenseOp, { maxLength: 4 }),
    firmware: fc.constantFrom('7.0.1', '3.9'),
  })
  .map(({ failedRole, before, between, after, firmware }) => {
    const h = new History(START);
    for (const serial of [P, S, R, X]) h.register(serial);
    play(h, before.slice(0, 2));
    h.associate(P, S);
    const oldAssociation = h.events.at(-1) as EventEnvelope;
    play(h, before.slice(2));
    h.changeFirmware(R, firmware);
    const failed = failedRole === 'primary' ? P : S;
    const failedLicenses = h.licenses.filter((l) => l.serial === failed).map((l) => l.licenseId);
    const { successorSerial } = h.replace(failed, R)!;
    const association = h.events.at(-2) as EventEnvelope;
    play(h, between);
    h.transferAll(failed, successorSerial);
    play(h, after);
    return { events: h.events, failed, successor: successorSerial, failedLicenses, association, oldAssociation };
  });

/** A delivery: PAIRING and LICENSING each in order, interleaved at random, with some events repeated. */
function deliveryOf<T extends { readonly events: readonly EventEnvelope[] }>(scenario: fc.Arbitrary<T>) {
  return scenario.chain((s) =>
    fc
      .tuple(fc.array(fc.boolean(), { maxLength: s.events.length * 2 }), fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 5 }))
      .map(([picks, repeats]) => {
        const delivered = interleave(s.events, picks);
        // A redelivery comes after the first delivery, so that each stream still starts in order.
        for (const [which, where] of repeats) {
          const event = s.events[which % s.events.length] as EventEnvelope;
          const first = delivered.indexOf(event);
          delivered.splice(first + 1 + (where % (delivered.length - first)), 0, event);
        }
        return { scenario: s, delivered };
      }),
  );
}

function replay(events: readonly EventEnvelope[]): ProjectionState {
  return events.reduce(applyEvent, emptyProjection());
}

/** Every state on the way: after the first event, the second, ... */
function* prefixes(events: readonly EventEnvelope[]): Generator<{ state: ProjectionState; seen: ReadonlySet<string> }> {
  let state = emptyProjection();
  const seen = new Set<string>();
  for (const event of events) {
    state = applyEvent(state, event);
    seen.add(event.eventId);
    yield { state, seen };
  }
}

/** The set of a unit, or an empty one while its registration has not arrived (only in unrealistic orders). */
function setOf(state: ProjectionState, serial: string): EffectiveLicenseSetV1 {
  return (
    effectiveSetOf(state, serial, NOW) ?? {
      serial,
      role: 'standalone',
      peerSerial: null,
      pairId: null,
      licenses: [],
      statefulSync: { enabled: false, reason: 'NOT_PAIRED' },
    }
  );
}

/** How many sources of `set` name `licenseId`. */
function timesListed(set: EffectiveLicenseSetV1, licenseId: string): number {
  return set.licenses.flatMap((l) => l.sources).filter((s) => s.licenseId === licenseId).length;
}

function expectNoLicenseTwice(set: EffectiveLicenseSetV1): void {
  const ids = set.licenses.flatMap((l) => l.sources.map((s) => s.licenseId));
  expect({ serial: set.serial, ids: [...new Set(ids)].sort() }).toEqual({ serial: set.serial, ids: [...ids].sort() });
}

/**
 * Once the new association is applied: the successor lists every usable license of the failed unit exactly once
 * (whether licensing has transferred it yet or not), the new Secondary lists the shareable ones exactly once if
 * they reach it through its Primary, and no set lists a license twice.
 */
function expectSuccessorHoldsFailedLicenses(r: Replacement, state: ProjectionState): void {
  const successor = setOf(state, r.successor);
  const newSecondary = setOf(state, R);
  expectNoLicenseTwice(successor);
  expectNoLicenseTwice(newSecondary);
  for (const licenseId of r.failedLicenses) {
    const license = state.licenses.get(licenseId)?.facts;
    if (license === undefined) continue; // its grant has not arrived yet
    const usable = isLicenseUsableAt(license, NOW);
    expect({ licenseId, onSuccessor: timesListed(successor, licenseId) }).toEqual({ licenseId, onSuccessor: usable ? 1 : 0 });
    if (r.successor !== R) {
      const shared = usable && isShareableSku(license.sku);
      expect({ licenseId, onNewSecondary: timesListed(newSecondary, licenseId) }).toEqual({
        licenseId,
        onNewSecondary: shared ? 1 : 0,
      });
    }
  }
}

describe('a replacement (RMA)', () => {
  it('delivered with the two streams interleaved and duplicated, ends in the in-order sets and state', () => {
    fc.assert(
      fc.property(deliveryOf(replacement), ({ scenario, delivered }) => {
        const inOrder = replay(scenario.events);
        const shuffled = replay(delivered);
        expect(shuffled).toEqual(inOrder);
        for (const serial of [P, S, R, X])
          expect(effectiveSetOf(shuffled, serial, NOW)).toEqual(effectiveSetOf(inOrder, serial, NOW));
      }),
      RUNS,
    );
  });

  it('in order: at every instant after the new pair is seen, the successor holds each license of the failed unit once', () => {
    fc.assert(
      fc.property(replacement, (r) => {
        const from = r.events.indexOf(r.association);
        for (const { state, seen } of prefixes(r.events)) {
          if (seen.has(r.association.eventId)) expectSuccessorHoldsFailedLicenses(r, state);
        }
        expect(from).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('interleaved: at every instant after the new pair is seen, the successor holds each license of the failed unit once', () => {
    fc.assert(
      fc.property(deliveryOf(replacement), ({ scenario: r, delivered }) => {
        for (const { state, seen } of prefixes(delivered)) {
          if (seen.has(r.association.eventId)) expectSuccessorHoldsFailedLicenses(r, state);
        }
      }),
      RUNS,
    );
  });

  it('interleaved: while the failed Primary is being replaced, its old Secondary never loses one of its shareable licenses', () => {
    const primaryFailed = replacement.filter((r) => r.failed === P);
    fc.assert(
      fc.property(deliveryOf(primaryFailed), ({ scenario: r, delivered }) => {
        for (const { state, seen } of prefixes(delivered)) {
          if (!seen.has(r.oldAssociation.eventId)) continue;
          const set = setOf(state, S);
          expectNoLicenseTwice(set);
          for (const licenseId of r.failedLicenses) {
            const license = state.licenses.get(licenseId)?.facts;
            if (license === undefined) continue; // its grant has not arrived yet
            const held = seen.has(r.association.eventId) || license.serial === S;
            const expected = isLicenseUsableAt(license, NOW) && (held || isShareableSku(license.sku)) ? 1 : 0;
            expect({ licenseId, listed: timesListed(set, licenseId) }).toEqual({ licenseId, listed: expected });
          }
        }
      }),
      RUNS,
    );
  });
});

interface Reassociation {
  readonly events: readonly EventEnvelope[];
  readonly oldPrimary: string;
  readonly newPrimary: string;
  readonly secondary: string;
  readonly newAssociation: EventEnvelope;
  readonly dissociation: EventEnvelope;
}

/** The Secondary S leaves P and is associated with X; licenses are granted, renewed and revoked all along. */
const reassociation: fc.Arbitrary<Reassociation> = fc
  .record({
    before: fc.array(licenseOp, { minLength: 1, maxLength: 8 }),
    between: fc.array(licenseOp, { maxLength: 4 }),
    after: fc.array(licenseOp, { maxLength: 4 }),
    newPrimaryLicenses: fc.array(fc.constantFrom(...SKUS), { minLength: 1, maxLength: 3 }),
  })
  .map(({ before, between, after, newPrimaryLicenses }) => {
    const h = new History(START);
    for (const serial of [P, S, R, X]) h.register(serial);
    for (const sku of newPrimaryLicenses) h.grant(X, sku);
    h.associate(P, S);
    play(h, before);
    h.dissociate(S);
    const dissociation = h.events.at(-1) as EventEnvelope;
    play(h, between);
    h.associate(X, S);
    const newAssociation = h.events.at(-1) as EventEnvelope;
    play(h, after);
    return { events: h.events, oldPrimary: P, newPrimary: X, secondary: S, newAssociation, dissociation };
  });

/** Any order at all (even pairing events out of order), with repeats. */
const anyOrder = reassociation.chain((s) =>
  fc
    .shuffledSubarray([...s.events], { minLength: s.events.length, maxLength: s.events.length })
    .map((delivered) => ({ scenario: s, delivered })),
);

/** The serials the Secondary's set receives licenses from through its Primary. */
function sharedFrom(set: EffectiveLicenseSetV1): string[] {
  return [...new Set(set.licenses.flatMap((l) => l.sources.filter((s) => s.from === 'primary').map((s) => s.serial)))];
}

describe('a re-association of the Secondary with another Primary', () => {
  it('never shows both Primaries’ licenses at once, and none of the old Primary’s once the new pair is seen', () => {
    fc.assert(
      fc.property(fc.oneof(anyOrder, deliveryOf(reassociation)), ({ scenario: r, delivered }) => {
        for (const { state, seen } of prefixes(delivered)) {
          const set = setOf(state, r.secondary);
          expect(sharedFrom(set).length).toBeLessThanOrEqual(1);
          if (seen.has(r.newAssociation.eventId)) expect(sharedFrom(set)).not.toContain(r.oldPrimary);
        }
        expect(replay(delivered)).toEqual(replay(r.events));
      }),
      RUNS,
    );
  });

  it('in order: shows nothing of the old Primary from the dissociation on', () => {
    fc.assert(
      fc.property(reassociation, (r) => {
        for (const { state, seen } of prefixes(r.events)) {
          if (!seen.has(r.dissociation.eventId)) continue;
          const set = setOf(state, r.secondary);
          expect(sharedFrom(set)).not.toContain(r.oldPrimary);
          expect(set.pairId).toBe(
            seen.has(r.newAssociation.eventId) ? (r.newAssociation.data as { pairId: string }).pairId : null,
          );
        }
      }),
      RUNS,
    );
  });
});
