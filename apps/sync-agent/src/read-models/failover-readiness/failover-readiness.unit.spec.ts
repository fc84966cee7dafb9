import { describe, expect, it } from '@jest/globals';
import type { EffectiveLicenseSetV1, EffectiveLicenseV1, EventEnvelope, LicenseStateV1, PublishedEvent } from '#shared/contracts';
import type { PairFacts } from '../../domain/effective-licenses/effective-licenses.js';
import { applyEvent, emptyProjection } from '../../domain/effective-licenses/projection.js';
import {
  assessFailoverReadiness,
  isReady,
  readinessGaps,
  type ConsumerLag,
  type ProducerCatchUp,
  type ReadinessFacts,
  type ReadinessGap,
} from './failover-readiness.js';

const PRIMARY = 'C0EAE4000001';
const SECONDARY = 'C0EAE4000002';
const OTHER = 'C0EAE4000003';
const PAIR_ID = '00000000-0000-4000-8000-000000000001';
const LATER_PAIR_ID = '00000000-0000-4000-8000-000000000002';
const NOW = new Date('2025-06-01T00:00:00.000Z');
const NEXT_YEAR = '2026-06-01T00:00:00.000Z';
const IN_TWO_YEARS = '2027-06-01T00:00:00.000Z';
const IN_TEN_DAYS = '2025-06-11T00:00:00.000Z';

const PAIR: PairFacts = {
  pairId: PAIR_ID,
  primarySerial: PRIMARY,
  secondarySerial: SECONDARY,
  status: 'associated',
  associatedAt: '2025-01-01T00:00:00.000Z',
};
const CAUGHT_UP: ConsumerLag[] = [
  { stream: 'PAIRING', pending: 0, ackPending: 0 },
  { stream: 'LICENSING', pending: 0, ackPending: 0 },
];
const NEWEST_PAIRING_EVENT = '7f3c2a10-0000-4000-8000-000000000001';
const NEWEST_LICENSING_EVENT = '7f3c2a10-0000-4000-8000-000000000002';
const ALL_APPLIED: ProducerCatchUp[] = [
  { source: 'pairing', newestEventId: NEWEST_PAIRING_EVENT, applied: true },
  { source: 'licensing', newestEventId: NEWEST_LICENSING_EVENT, applied: true },
];

/** One SKU of a set: `from` says whose license it is; `expiringSoon` as the set would flag it. */
function entry(sku: string, expiresAt: string | null, from: 'own' | 'primary', expiringSoon = false): EffectiveLicenseV1 {
  const serial = from === 'own' ? SECONDARY : PRIMARY;
  return {
    sku,
    category: 'security-service',
    trial: false,
    expiresAt,
    expiringSoon,
    sources: [{ from, serial, licenseId: '00000000-0000-4000-8000-0000000000aa', expiresAt, eventIds: [] }],
  };
}

/** The base OS license: the Primary's own, and the same license as the Secondary receives it. */
const BASE = entry('SONICOS_ENHANCED', NEXT_YEAR, 'own');
const BASE_SHARED = entry('SONICOS_ENHANCED', NEXT_YEAR, 'primary');

function primarySet(...licenses: EffectiveLicenseV1[]): EffectiveLicenseSetV1 {
  return {
    serial: PRIMARY,
    role: 'primary',
    peerSerial: SECONDARY,
    pairId: PAIR_ID,
    licenses: licenses.map((l) => ({ ...l, sources: l.sources.map((s) => ({ ...s, from: 'own' as const, serial: PRIMARY })) })),
    statefulSync: { enabled: false, reason: 'NOT_LICENSED' },
  };
}

function secondarySet(...licenses: EffectiveLicenseV1[]): EffectiveLicenseSetV1 {
  return {
    serial: SECONDARY,
    role: 'secondary',
    peerSerial: PRIMARY,
    pairId: PAIR_ID,
    licenses,
    statefulSync: { enabled: false, reason: 'NOT_LICENSED' },
  };
}

function facts(overrides: Partial<ReadinessFacts> = {}): ReadinessFacts {
  return {
    pair: PAIR,
    supersededBy: null,
    primarySet: primarySet(entry('GATEWAY_AV', NEXT_YEAR, 'own'), BASE),
    secondarySet: secondarySet(entry('GATEWAY_AV', NEXT_YEAR, 'primary'), BASE_SHARED),
    lag: CAUGHT_UP,
    producers: ALL_APPLIED,
    warningWindowDays: 30,
    ...overrides,
  };
}

/** Gaps as `CODE[sku]/severity`, the shape the tables compare. */
const codes = (gaps: readonly ReadinessGap[]) =>
  gaps.map((g) => `${g.code}${g.sku === undefined ? '' : `[${g.sku}]`}/${g.severity}`);

describe('readinessGaps', () => {
  describe('given an active pair whose Secondary has a base OS license and every shareable license of the Primary', () => {
    it.each<{ when: string; given: Partial<ReadinessFacts>; then: string[] }>([
      { when: 'nothing else is wrong', given: {}, then: [] },
      {
        when: 'a producer has committed no event at all yet',
        given: { producers: [{ source: 'pairing', newestEventId: null, applied: false }, ALL_APPLIED[1]!] },
        then: [],
      },
      {
        when: 'the Primary holds only licenses that are not shared (consulting, stateful sync) and the Secondary its own base OS',
        given: {
          primarySet: primarySet(entry('GMS_PREVENTIVE_MAINTENANCE', NEXT_YEAR, 'own'), entry('STATEFUL_SYNC', null, 'own')),
          secondarySet: secondarySet(entry('SONICOS_ENHANCED', NEXT_YEAR, 'own')),
        },
        then: [],
      },
      {
        when: 'the Secondary holds the SKU longer (its own license)',
        given: { secondarySet: secondarySet({ ...entry('GATEWAY_AV', IN_TWO_YEARS, 'own') }, BASE_SHARED) },
        then: [],
      },
      {
        when: 'the Secondary holds the SKU perpetually',
        given: { secondarySet: secondarySet(entry('GATEWAY_AV', null, 'own'), BASE_SHARED) },
        then: [],
      },
      {
        when: 'the Primary holds no base OS license and the Secondary its own',
        given: {
          primarySet: primarySet(entry('GATEWAY_AV', NEXT_YEAR, 'own')),
          secondarySet: secondarySet(entry('GATEWAY_AV', NEXT_YEAR, 'primary'), entry('SONICOS_ENHANCED', null, 'own')),
        },
        then: [],
      },
      {
        when: 'a shared license expires within the warning window',
        given: {
          primarySet: primarySet(entry('GATEWAY_AV', IN_TEN_DAYS, 'own', true), BASE),
          secondarySet: secondarySet(entry('GATEWAY_AV', IN_TEN_DAYS, 'primary', true), BASE_SHARED),
        },
        then: ['EXPIRING_SOON[GATEWAY_AV]/warning'],
      },
      {
        when: 'only the Secondary’s own license expires within the window (not a shared one)',
        given: {
          primarySet: primarySet(),
          secondarySet: secondarySet(entry('IPS', IN_TEN_DAYS, 'own', true), entry('SONICOS_ENHANCED', null, 'own')),
        },
        then: [],
      },
    ])('when $when, then the gaps are $then', ({ given, then }) => {
      const gaps = readinessGaps(facts(given));
      expect(codes(gaps)).toEqual(then);
      expect(isReady(gaps)).toBe(true);
    });
  });

  describe('given a pair that is not ready', () => {
    it.each<{ when: string; given: Partial<ReadinessFacts>; then: string[] }>([
      {
        when: 'the pair was dissociated (licenses no longer shared are not listed again)',
        given: { pair: { ...PAIR, status: 'dissociated' }, secondarySet: { ...secondarySet(), role: 'standalone' } },
        then: ['PAIR_NOT_ACTIVE/blocking'],
      },
      {
        when: 'a later association of one of its units superseded it',
        given: { supersededBy: LATER_PAIR_ID, secondarySet: secondarySet() },
        then: ['PAIR_NOT_ACTIVE/blocking'],
      },
      {
        when: 'the Primary’s registration has not been seen',
        given: { primarySet: null },
        then: ['PRIMARY_UNKNOWN/blocking'],
      },
      {
        when: 'the Secondary’s registration has not been seen',
        given: { secondarySet: null },
        then: ['SECONDARY_UNKNOWN/blocking'],
      },
      {
        when: 'the Primary’s base OS license was revoked or expired (gone from both units) and the Secondary has none of its own',
        given: {
          primarySet: primarySet(entry('GATEWAY_AV', NEXT_YEAR, 'own')),
          secondarySet: secondarySet(entry('GATEWAY_AV', NEXT_YEAR, 'primary')),
        },
        then: ['NO_BASE_LICENSE/blocking'],
      },
      {
        when: 'neither unit holds any license',
        given: { primarySet: primarySet(), secondarySet: secondarySet() },
        then: ['NO_BASE_LICENSE/blocking'],
      },
      {
        when: 'the Secondary has no base OS license and lacks a shareable license of the Primary',
        given: { primarySet: primarySet(entry('IPS', NEXT_YEAR, 'own')), secondarySet: secondarySet() },
        then: ['NO_BASE_LICENSE/blocking', 'MISSING_LICENSE[IPS]/blocking'],
      },
      {
        when: 'a shareable license of the Primary is missing from the Secondary’s set',
        given: {
          primarySet: primarySet(entry('GATEWAY_AV', NEXT_YEAR, 'own'), entry('IPS', null, 'own'), BASE),
          secondarySet: secondarySet(entry('GATEWAY_AV', NEXT_YEAR, 'primary'), BASE_SHARED),
        },
        then: ['MISSING_LICENSE[IPS]/blocking'],
      },
      {
        when: 'the Secondary has the SKU but until an earlier expiry than the Primary',
        given: {
          primarySet: primarySet(entry('GATEWAY_AV', IN_TWO_YEARS, 'own'), BASE),
          secondarySet: secondarySet(entry('GATEWAY_AV', NEXT_YEAR, 'primary'), BASE_SHARED),
        },
        then: ['MISSING_LICENSE[GATEWAY_AV]/blocking'],
      },
      {
        when: 'the Primary’s license is perpetual and the Secondary’s is not',
        given: {
          primarySet: primarySet(entry('SONICOS_ENHANCED', null, 'own')),
          secondarySet: secondarySet(entry('SONICOS_ENHANCED', IN_TWO_YEARS, 'own')),
        },
        then: ['MISSING_LICENSE[SONICOS_ENHANCED]/blocking'],
      },
      {
        when: 'the pairing consumer has events waiting',
        given: { lag: [{ stream: 'PAIRING', pending: 3, ackPending: 0 }, CAUGHT_UP[1]!] },
        then: ['PROJECTION_LAG/blocking'],
      },
      {
        when: 'the licensing consumer has events delivered but not yet acknowledged',
        given: { lag: [CAUGHT_UP[0]!, { stream: 'LICENSING', pending: 0, ackPending: 1 }] },
        then: ['PROJECTION_LAG/blocking'],
      },
      {
        when: 'a consumer’s state could not be read',
        given: { lag: [CAUGHT_UP[0]!, { stream: 'LICENSING', error: 'consumer not found' }] },
        then: ['PROJECTION_LAG/blocking'],
      },
      {
        when: 'licensing committed an event the sync agent has not applied (undelivered, or lost by the bus)',
        given: { producers: [ALL_APPLIED[0]!, { source: 'licensing', newestEventId: NEWEST_LICENSING_EVENT, applied: false }] },
        then: ['UNAPPLIED_EVENTS/blocking'],
      },
      {
        when: 'pairing gave no signed answer about its newest event',
        given: { producers: [{ source: 'pairing', error: 'the pairing service did not answer' }, ALL_APPLIED[1]!] },
        then: ['PRODUCER_UNREACHABLE/blocking'],
      },
      {
        when: 'several things are wrong at once',
        given: {
          primarySet: primarySet(entry('GATEWAY_AV', IN_TEN_DAYS, 'own', true), entry('IPS', NEXT_YEAR, 'own'), BASE),
          secondarySet: secondarySet(entry('GATEWAY_AV', IN_TEN_DAYS, 'primary', true), BASE_SHARED),
          lag: [
            { stream: 'PAIRING', pending: 1, ackPending: 0 },
            { stream: 'LICENSING', pending: 0, ackPending: 2 },
          ],
        },
        then: [
          'MISSING_LICENSE[IPS]/blocking',
          'PROJECTION_LAG/blocking',
          'PROJECTION_LAG/blocking',
          'EXPIRING_SOON[GATEWAY_AV]/warning',
        ],
      },
    ])('when $when, then the gaps are $then', ({ given, then }) => {
      const gaps = readinessGaps(facts(given));
      expect(codes(gaps)).toEqual(then);
      expect(isReady(gaps)).toBe(false);
    });
  });

  describe('the details say what is missing and why', () => {
    it('names how many events a consumer has not applied', () => {
      const [lag] = readinessGaps(facts({ lag: [{ stream: 'PAIRING', pending: 3, ackPending: 2 }] }));
      expect(lag?.detail).toBe('The sync agent has 5 event(s) of PAIRING not yet applied (3 waiting, 2 in progress).');
    });

    it('says that the Secondary has no usable base OS license, from the Primary or its own', () => {
      const [missing] = readinessGaps(facts({ primarySet: primarySet(), secondarySet: secondarySet() }));
      expect(missing).toEqual({
        code: 'NO_BASE_LICENSE',
        severity: 'blocking',
        detail: `The Secondary ${SECONDARY} has no usable base OS license (SONICOS_ENHANCED), neither from the Primary nor its own: it is not licensed to take over.`,
      });
    });

    it('names the SKU and the date of a license expiring soon', () => {
      const [warning] = readinessGaps(
        facts({
          primarySet: primarySet(entry('GATEWAY_AV', IN_TEN_DAYS, 'own', true), BASE),
          secondarySet: secondarySet(entry('GATEWAY_AV', IN_TEN_DAYS, 'primary', true), BASE_SHARED),
        }),
      );
      expect(warning).toEqual({
        code: 'EXPIRING_SOON',
        severity: 'warning',
        sku: 'GATEWAY_AV',
        detail: `GATEWAY_AV expires at ${IN_TEN_DAYS} (within the 30-day warning window).`,
      });
    });

    it('names the SKU and both expiries of a license reaching the Secondary for too short', () => {
      const [missing] = readinessGaps(
        facts({
          primarySet: primarySet(entry('GATEWAY_AV', IN_TWO_YEARS, 'own'), BASE),
          secondarySet: secondarySet(entry('GATEWAY_AV', NEXT_YEAR, 'primary'), BASE_SHARED),
        }),
      );
      expect(missing?.detail).toBe(
        `GATEWAY_AV of the Primary (until ${IN_TWO_YEARS}) reaches the Secondary only until ${NEXT_YEAR}.`,
      );
    });
  });
});

// ---- from projected events ------------------------------------------------------------------------------

let ids = 0;
function envelope(streamId: string, streamVersion: number, event: PublishedEvent): EventEnvelope {
  const eventId = `00000000-0000-4000-9000-${(++ids).toString(16).padStart(12, '0')}`;
  const metadata = { correlationId: null, causationId: null };
  return { eventId, schemaVersion: 1, streamId, streamVersion, occurredAt: '2025-01-01T00:00:00.000Z', metadata, ...event };
}

const registered = (serial: string) =>
  envelope(`product-${serial}`, 1, {
    type: 'ProductRegistered',
    data: { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'acme', registeredAt: '2025-01-01T00:00:00.000Z' },
  });

const pairData = (pairId: string, primarySerial: string, secondarySerial: string, associatedAt: string) => ({
  pairId,
  primarySerial,
  secondarySerial,
  model: 'NSA 2700',
  accountId: 'acme',
  associatedAt,
});
const associated = (pairId: string, primary: string, secondary: string, at = '2025-01-01T00:00:00.000Z') =>
  envelope(`pair-${pairId}`, 1, { type: 'ProductsAssociated', data: pairData(pairId, primary, secondary, at) });
const dissociated = (pairId: string, primary: string, secondary: string) =>
  envelope(`pair-${pairId}`, 2, {
    type: 'ProductsDissociated',
    data: { ...pairData(pairId, primary, secondary, '2025-01-01T00:00:00.000Z'), dissociatedAt: '2025-02-01T00:00:00.000Z' },
  });

function licenseOf(n: number, serial: string, sku: string, expiresAt: string | null): LicenseStateV1 {
  return {
    licenseId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    serial,
    sku,
    trial: false,
    expiresAt,
    status: 'active',
    grantedAt: '2025-01-01T00:00:00.000Z',
    revokedAt: null,
  };
}

function granted(n: number, serial: string, sku: string, expiresAt: string | null): EventEnvelope {
  const license = licenseOf(n, serial, sku, expiresAt);
  return envelope(`license-${license.licenseId}`, 1, {
    type: 'EntitlementChanged',
    data: { change: 'granted', license, changedAt: '2025-01-01T00:00:00.000Z' },
  });
}

function revoked(n: number, serial: string, sku: string, expiresAt: string | null): EventEnvelope {
  const at = '2025-05-01T00:00:00.000Z';
  const license: LicenseStateV1 = { ...licenseOf(n, serial, sku, expiresAt), status: 'revoked', revokedAt: at };
  return envelope(`license-${license.licenseId}`, 2, {
    type: 'EntitlementChanged',
    data: { change: 'revoked', license, changedAt: at },
  });
}

/** PRIMARY and SECONDARY registered and associated as PAIR_ID: where most cases start. */
const pairedUnits = () => [registered(PRIMARY), registered(SECONDARY), associated(PAIR_ID, PRIMARY, SECONDARY)];

function assess(events: EventEnvelope[], pairId = PAIR_ID, lag: ConsumerLag[] = CAUGHT_UP) {
  const state = events.reduce((s, e) => applyEvent(s, e), emptyProjection());
  return assessFailoverReadiness(state, pairId, { now: NOW, lag, producers: ALL_APPLIED, warningWindowDays: 30 });
}

describe('assessFailoverReadiness', () => {
  it.each<{ given: string; events: () => EventEnvelope[]; then: { ready: boolean; gaps: string[] } }>([
    {
      given: 'a healthy pair sharing a license',
      events: () => [...pairedUnits(), granted(1, PRIMARY, 'IPS', NEXT_YEAR), granted(2, PRIMARY, 'SONICOS_ENHANCED', NEXT_YEAR)],
      then: { ready: true, gaps: [] },
    },
    {
      given: 'a pair whose Primary’s base OS license was revoked',
      events: () => [
        ...pairedUnits(),
        granted(1, PRIMARY, 'IPS', NEXT_YEAR),
        granted(2, PRIMARY, 'SONICOS_ENHANCED', NEXT_YEAR),
        revoked(2, PRIMARY, 'SONICOS_ENHANCED', NEXT_YEAR),
      ],
      then: { ready: false, gaps: ['NO_BASE_LICENSE/blocking'] },
    },
    {
      given: 'that pair once the Primary was granted a new base OS license',
      events: () => [
        ...pairedUnits(),
        granted(1, PRIMARY, 'IPS', NEXT_YEAR),
        granted(2, PRIMARY, 'SONICOS_ENHANCED', NEXT_YEAR),
        revoked(2, PRIMARY, 'SONICOS_ENHANCED', NEXT_YEAR),
        granted(3, PRIMARY, 'SONICOS_ENHANCED', IN_TWO_YEARS),
      ],
      then: { ready: true, gaps: [] },
    },
    {
      given: 'a pair whose Primary’s base OS license expired before now',
      events: () => [...pairedUnits(), granted(2, PRIMARY, 'SONICOS_ENHANCED', '2025-05-31T00:00:00.000Z')],
      then: { ready: false, gaps: ['NO_BASE_LICENSE/blocking'] },
    },
    {
      given: 'a pair whose Secondary holds its own base OS license and the Primary none',
      events: () => [...pairedUnits(), granted(2, SECONDARY, 'SONICOS_ENHANCED', null)],
      then: { ready: true, gaps: [] },
    },
    {
      given: 'a shared license expiring within the window',
      events: () => [
        ...pairedUnits(),
        granted(1, PRIMARY, 'IPS', IN_TEN_DAYS),
        granted(2, PRIMARY, 'SONICOS_ENHANCED', NEXT_YEAR),
      ],
      then: { ready: true, gaps: ['EXPIRING_SOON[IPS]/warning'] },
    },
    {
      given: 'a dissociated pair',
      events: () => [...pairedUnits(), granted(1, PRIMARY, 'IPS', NEXT_YEAR), dissociated(PAIR_ID, PRIMARY, SECONDARY)],
      then: { ready: false, gaps: ['PAIR_NOT_ACTIVE/blocking'] },
    },
    {
      given: 'a pair whose Primary was associated later with another unit (its dissociation not seen yet)',
      events: () => [
        registered(PRIMARY),
        registered(SECONDARY),
        registered(OTHER),
        associated(PAIR_ID, PRIMARY, SECONDARY),
        associated(LATER_PAIR_ID, PRIMARY, OTHER, '2025-03-01T00:00:00.000Z'),
      ],
      then: { ready: false, gaps: ['PAIR_NOT_ACTIVE/blocking'] },
    },
    {
      given: 'a pair whose Secondary’s registration has not arrived',
      events: () => [registered(PRIMARY), associated(PAIR_ID, PRIMARY, SECONDARY), granted(1, PRIMARY, 'IPS', NEXT_YEAR)],
      then: { ready: false, gaps: ['SECONDARY_UNKNOWN/blocking'] },
    },
  ])('given $given, then ready is $then.ready with $then.gaps', ({ events, then }) => {
    const report = assess(events());
    expect({ ready: report?.ready, gaps: codes(report?.gaps ?? []) }).toEqual(then);
  });

  it('reports the pair, the instant and the stateful sync status', () => {
    const report = assess([
      registered(PRIMARY),
      registered(SECONDARY),
      associated(PAIR_ID, PRIMARY, SECONDARY),
      granted(1, PRIMARY, 'SONICOS_ENHANCED', NEXT_YEAR),
    ]);
    expect(report).toEqual({
      pairId: PAIR_ID,
      primarySerial: PRIMARY,
      secondarySerial: SECONDARY,
      ready: true,
      checkedAt: NOW.toISOString(),
      statefulSync: { enabled: false, reason: 'NOT_LICENSED' },
      gaps: [],
    });
  });

  it('reports a dissociated pair’s stateful sync as NOT_PAIRED', () => {
    const report = assess([
      registered(PRIMARY),
      registered(SECONDARY),
      associated(PAIR_ID, PRIMARY, SECONDARY),
      dissociated(PAIR_ID, PRIMARY, SECONDARY),
    ]);
    expect(report?.statefulSync).toEqual({ enabled: false, reason: 'NOT_PAIRED' });
  });

  it('is not ready while the projection lags, whatever the facts say', () => {
    const report = assess([registered(PRIMARY), registered(SECONDARY), associated(PAIR_ID, PRIMARY, SECONDARY)], PAIR_ID, [
      { stream: 'PAIRING', pending: 1, ackPending: 0 },
    ]);
    expect(report?.ready).toBe(false);
  });

  it('answers null for a pair it has not seen', () => {
    expect(assess([registered(PRIMARY)], LATER_PAIR_ID)).toBeNull();
  });
});
