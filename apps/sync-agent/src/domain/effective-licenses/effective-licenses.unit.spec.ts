import { describe, expect, it } from '@jest/globals';
import type { EffectiveLicenseSetV1, StatefulSyncStatusV1 } from '#shared/contracts';
import {
  changedFieldsOf,
  computeEffectiveSet,
  diffEffectiveSets,
  isSameEffectiveSet,
  type Evidenced,
  type LicenseFacts,
  type PairFacts,
  type ProductFacts,
} from './effective-licenses.js';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const LATER = '2026-06-01T12:00:00.000Z';
const MUCH_LATER = '2027-06-01T12:00:00.000Z';
const PRIMARY = 'C0EAE4000001';
const SECONDARY = 'C0EAE4000002';
const PAIR_ID = '7d1c5a0e-0000-4000-8000-000000000001';
/** The event that associated PAIR. */
const PAIR_EVENT = '7d1c5a0e-0000-4000-9000-000000000001';
const DAY = 86_400_000;

/** License ids are explicit hex so that tests about source order can choose it. */
function id(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** The id of license n's latest event. */
function eventOf(n: number): string {
  return `00000000-0000-4000-9000-${n.toString(16).padStart(12, '0')}`;
}

function license(n: number, serial: string, sku: string, overrides: Partial<LicenseFacts> = {}): Evidenced<LicenseFacts> {
  const facts: LicenseFacts = {
    licenseId: id(n),
    serial,
    sku,
    trial: false,
    expiresAt: LATER,
    status: 'active',
    grantedAt: '2025-01-01T00:00:00.000Z',
    revokedAt: null,
    ...overrides,
  };
  return { facts, eventId: eventOf(n) };
}

function product(serial: string, overrides: Partial<ProductFacts> = {}): ProductFacts {
  return { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'acme', ...overrides };
}

const PAIR: PairFacts = {
  pairId: PAIR_ID,
  primarySerial: PRIMARY,
  secondarySerial: SECONDARY,
  status: 'associated',
  associatedAt: '2025-02-01T00:00:00.000Z',
};

/**
 * A unit in a given situation: `own` licenses are its own, `peer` licenses its peer's. A standalone unit is
 * PRIMARY unless `standaloneSerial` says otherwise. `self`/`peerProduct` override the product facts (null = not
 * seen yet).
 */
interface Given {
  readonly as: 'standalone' | 'primary' | 'secondary';
  readonly standaloneSerial?: string;
  readonly own?: readonly Evidenced<LicenseFacts>[];
  readonly peer?: readonly Evidenced<LicenseFacts>[];
  readonly self?: Partial<ProductFacts> | null;
  readonly peerProduct?: Partial<ProductFacts> | null;
  /** Serials whose licenses the unit / its peer hold (after a replacement); default their own. */
  readonly held?: readonly string[];
  readonly peerHeld?: readonly string[];
  readonly warningWindowDays?: number;
}

function serialsOf(given: Given): { serial: string; peerSerial: string } {
  if (given.as === 'secondary') return { serial: SECONDARY, peerSerial: PRIMARY };
  if (given.as === 'primary') return { serial: PRIMARY, peerSerial: SECONDARY };
  return { serial: given.standaloneSerial ?? PRIMARY, peerSerial: SECONDARY };
}

function effectiveSet(given: Given): EffectiveLicenseSetV1 {
  const { serial, peerSerial } = serialsOf(given);
  const paired = given.as !== 'standalone';
  return computeEffectiveSet({
    serial,
    product: given.self === null ? null : product(serial, given.self),
    pair: paired ? { facts: PAIR, eventId: PAIR_EVENT } : null,
    peer: !paired || given.peerProduct === null ? null : product(peerSerial, given.peerProduct),
    ownLicenses: given.own ?? [],
    peerLicenses: given.peer ?? [],
    now: NOW,
    ...(given.held ? { heldSerials: given.held } : {}),
    ...(given.peerHeld ? { peerHeldSerials: given.peerHeld } : {}),
    ...(given.warningWindowDays ? { warningWindowDays: given.warningWindowDays } : {}),
  });
}

function skusOf(set: EffectiveLicenseSetV1): string[] {
  return set.licenses.map((l) => l.sku);
}

function entryOf(set: EffectiveLicenseSetV1, sku: string) {
  const entry = set.licenses.find((l) => l.sku === sku);
  if (entry === undefined) throw new Error(`${sku} is not in the set`);
  return entry;
}

interface SkusCase {
  readonly behaviour: string;
  readonly given: Given;
  readonly thenSkus: readonly string[];
}

describe('computeEffectiveSet', () => {
  describe('when standalone', () => {
    it('has no role in a pair, no peer and no pair id', () => {
      const set = effectiveSet({ as: 'standalone', peer: [license(1, SECONDARY, 'IPS')] });
      expect(set).toMatchObject({ serial: PRIMARY, role: 'standalone', peerSerial: null, pairId: null, licenses: [] });
    });

    it.each<SkusCase>([
      {
        behaviour: 'keeps every own usable license, consulting and STATEFUL_SYNC included',
        given: {
          as: 'standalone',
          own: [
            license(1, PRIMARY, 'SONICOS_ENHANCED'),
            license(2, PRIMARY, 'GMS_PREVENTIVE_MAINTENANCE'),
            license(3, PRIMARY, 'STATEFUL_SYNC'),
            license(4, PRIMARY, 'SOMETHING_NEW'),
          ],
        },
        thenSkus: ['GMS_PREVENTIVE_MAINTENANCE', 'SOMETHING_NEW', 'SONICOS_ENHANCED', 'STATEFUL_SYNC'],
      },
      {
        behaviour: 'ignores licenses handed in for another serial',
        given: { as: 'standalone', own: [license(1, SECONDARY, 'IPS')] },
        thenSkus: [],
      },
    ])('$behaviour', ({ given, thenSkus }) => {
      expect(skusOf(effectiveSet(given))).toEqual(thenSkus);
    });
  });

  describe('when paired as Primary', () => {
    it('reports its role, its Secondary as peer and the pair', () => {
      expect(effectiveSet({ as: 'primary' })).toMatchObject({ role: 'primary', peerSerial: SECONDARY, pairId: PAIR_ID });
    });

    it.each<SkusCase>([
      {
        behaviour: 'receives nothing from its Secondary',
        given: { as: 'primary', own: [license(1, PRIMARY, 'IPS')], peer: [license(2, SECONDARY, 'GATEWAY_AV')] },
        thenSkus: ['IPS'],
      },
      {
        behaviour: 'keeps its own consulting service and STATEFUL_SYNC',
        given: { as: 'primary', own: [license(1, PRIMARY, 'GMS_PREVENTIVE_MAINTENANCE'), license(2, PRIMARY, 'STATEFUL_SYNC')] },
        thenSkus: ['GMS_PREVENTIVE_MAINTENANCE', 'STATEFUL_SYNC'],
      },
    ])('$behaviour', ({ given, thenSkus }) => {
      expect(skusOf(effectiveSet(given))).toEqual(thenSkus);
    });
  });

  describe('when paired as Secondary', () => {
    it('reports its role, its Primary as peer and the pair', () => {
      expect(effectiveSet({ as: 'secondary' })).toMatchObject({ role: 'secondary', peerSerial: PRIMARY, pairId: PAIR_ID });
    });

    it.each<SkusCase>([
      {
        behaviour: "receives the Primary's base OS, support and security services, trials included",
        given: {
          as: 'secondary',
          peer: [
            license(1, PRIMARY, 'SONICOS_ENHANCED'),
            license(2, PRIMARY, 'SUPPORT_24X7'),
            license(3, PRIMARY, 'CAPTURE_ATP', { trial: true }),
          ],
        },
        thenSkus: ['CAPTURE_ATP', 'SONICOS_ENHANCED', 'SUPPORT_24X7'],
      },
      {
        behaviour: "never receives the Primary's consulting service",
        given: { as: 'secondary', peer: [license(1, PRIMARY, 'GMS_PREVENTIVE_MAINTENANCE')] },
        thenSkus: [],
      },
      {
        behaviour: "never receives the Primary's STATEFUL_SYNC license as a license",
        given: { as: 'secondary', peer: [license(1, PRIMARY, 'STATEFUL_SYNC')] },
        thenSkus: [],
      },
      {
        behaviour: 'does not receive a SKU missing from the catalog',
        given: { as: 'secondary', peer: [license(1, PRIMARY, 'SOMETHING_NEW')] },
        thenSkus: [],
      },
      {
        behaviour: "does not receive the Primary's expired or revoked licenses",
        given: {
          as: 'secondary',
          peer: [
            license(1, PRIMARY, 'IPS', { expiresAt: '2025-05-01T00:00:00.000Z' }),
            license(2, PRIMARY, 'GATEWAY_AV', { status: 'revoked', revokedAt: '2025-05-01T00:00:00.000Z' }),
          ],
        },
        thenSkus: [],
      },
      {
        behaviour: 'keeps its own consulting service',
        given: { as: 'secondary', own: [license(1, SECONDARY, 'GMS_PREVENTIVE_MAINTENANCE')] },
        thenSkus: ['GMS_PREVENTIVE_MAINTENANCE'],
      },
    ])('$behaviour', ({ given, thenSkus }) => {
      expect(skusOf(effectiveSet(given))).toEqual(thenSkus);
    });

    it("lists its own source before the Primary's, each group by license id", () => {
      const set = effectiveSet({
        as: 'secondary',
        own: [license(9, SECONDARY, 'IPS')],
        peer: [license(3, PRIMARY, 'IPS'), license(2, PRIMARY, 'IPS')],
      });
      expect(entryOf(set, 'IPS').sources).toEqual([
        { from: 'own', serial: SECONDARY, licenseId: id(9), expiresAt: LATER, eventIds: [eventOf(9)] },
        { from: 'primary', serial: PRIMARY, licenseId: id(2), expiresAt: LATER, eventIds: [eventOf(2), PAIR_EVENT] },
        { from: 'primary', serial: PRIMARY, licenseId: id(3), expiresAt: LATER, eventIds: [eventOf(3), PAIR_EVENT] },
      ]);
    });
  });

  describe('when naming the provenance of each entry', () => {
    it.each<{ behaviour: string; given: Given; then: { from: string; eventIds: string[] }[] }>([
      {
        behaviour: "names the license's latest event for an own license",
        given: { as: 'standalone', own: [license(1, PRIMARY, 'IPS')] },
        then: [{ from: 'own', eventIds: [eventOf(1)] }],
      },
      {
        behaviour: "names the license's latest event for an own license of a Primary",
        given: { as: 'primary', own: [license(1, PRIMARY, 'IPS')] },
        then: [{ from: 'own', eventIds: [eventOf(1)] }],
      },
      {
        behaviour: "names the Primary's license event, then the pair's association, for a shared license",
        given: { as: 'secondary', peer: [license(1, PRIMARY, 'IPS')] },
        then: [{ from: 'primary', eventIds: [eventOf(1), PAIR_EVENT] }],
      },
    ])('$behaviour', ({ given, then }) => {
      expect(entryOf(effectiveSet(given), 'IPS').sources.map(({ from, eventIds }) => ({ from, eventIds }))).toEqual(then);
    });
  });

  describe('when a unit holds the licenses of a failed unit it replaced', () => {
    const FAILED = 'C0EAE40000FF';

    it.each<SkusCase>([
      {
        behaviour: "counts the failed unit's licenses as its own",
        given: { as: 'standalone', held: [PRIMARY, FAILED], own: [license(1, FAILED, 'IPS'), license(2, PRIMARY, 'GATEWAY_AV')] },
        thenSkus: ['GATEWAY_AV', 'IPS'],
      },
      {
        behaviour: 'ignores licenses of a serial it does not hold, its own serial included once it was replaced',
        given: { as: 'standalone', held: [FAILED], own: [license(1, PRIMARY, 'IPS'), license(2, FAILED, 'GATEWAY_AV')] },
        thenSkus: ['GATEWAY_AV'],
      },
      {
        behaviour: 'receives, as a Secondary, the shareable licenses its Primary holds for a failed unit',
        given: {
          as: 'secondary',
          peerHeld: [PRIMARY, FAILED],
          peer: [license(1, FAILED, 'IPS'), license(2, FAILED, 'STATEFUL_SYNC')],
        },
        thenSkus: ['IPS'],
      },
    ])('$behaviour', ({ given, thenSkus }) => {
      expect(skusOf(effectiveSet(given))).toEqual(thenSkus);
    });

    it("names the license's actual serial in its source", () => {
      const set = effectiveSet({ as: 'secondary', peerHeld: [PRIMARY, FAILED], peer: [license(1, FAILED, 'IPS')] });
      expect(entryOf(set, 'IPS').sources).toEqual([
        { from: 'primary', serial: FAILED, licenseId: id(1), expiresAt: LATER, eventIds: [eventOf(1), PAIR_EVENT] },
      ]);
    });

    it("enables stateful sync through the failed Primary's STATEFUL_SYNC license", () => {
      const set = effectiveSet({ as: 'secondary', peerHeld: [PRIMARY, FAILED], peer: [license(1, FAILED, 'STATEFUL_SYNC')] });
      expect(set.statefulSync).toEqual({ enabled: true, reason: null });
    });

    it('lists a license handed in twice once, as its own', () => {
      const twice = license(1, FAILED, 'IPS');
      const set = effectiveSet({
        as: 'secondary',
        held: [SECONDARY, FAILED],
        own: [twice, twice],
        peerHeld: [PRIMARY, FAILED],
        peer: [twice],
      });
      expect(entryOf(set, 'IPS').sources).toEqual([expect.objectContaining({ from: 'own', licenseId: id(1) })]);
    });
  });

  describe('when an entry expires within the warning window', () => {
    const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

    it.each<{ behaviour: string; given: Given; thenExpiringSoon: boolean }>([
      {
        behaviour: 'flags an entry expiring in a day',
        given: { as: 'standalone', own: [license(1, PRIMARY, 'IPS', { expiresAt: at(DAY) })] },
        thenExpiringSoon: true,
      },
      {
        behaviour: 'flags an entry expiring exactly at the end of the default 30-day window',
        given: { as: 'standalone', own: [license(1, PRIMARY, 'IPS', { expiresAt: at(30 * DAY) })] },
        thenExpiringSoon: true,
      },
      {
        behaviour: 'does not flag an entry expiring a millisecond after the window',
        given: { as: 'standalone', own: [license(1, PRIMARY, 'IPS', { expiresAt: at(30 * DAY + 1) })] },
        thenExpiringSoon: false,
      },
      {
        behaviour: 'does not flag a perpetual entry',
        given: { as: 'standalone', own: [license(1, PRIMARY, 'IPS', { expiresAt: null })] },
        thenExpiringSoon: false,
      },
      {
        behaviour: 'uses a configured window',
        given: { as: 'standalone', warningWindowDays: 7, own: [license(1, PRIMARY, 'IPS', { expiresAt: at(8 * DAY) })] },
        thenExpiringSoon: false,
      },
      {
        behaviour: 'judges the entry by its latest source: a later shared source keeps it out of the window',
        given: {
          as: 'secondary',
          own: [license(1, SECONDARY, 'IPS', { expiresAt: at(DAY) })],
          peer: [license(2, PRIMARY, 'IPS', { expiresAt: at(90 * DAY) })],
        },
        thenExpiringSoon: false,
      },
      {
        behaviour: 'judges the entry by its latest source: a perpetual source keeps it out of the window',
        given: {
          as: 'secondary',
          own: [license(1, SECONDARY, 'IPS', { expiresAt: at(DAY) })],
          peer: [license(2, PRIMARY, 'IPS', { expiresAt: null })],
        },
        thenExpiringSoon: false,
      },
    ])('$behaviour', ({ given, thenExpiringSoon }) => {
      expect(entryOf(effectiveSet(given), 'IPS').expiringSoon).toBe(thenExpiringSoon);
    });
  });

  describe('when a license is judged against now', () => {
    it.each<{ behaviour: string; given: Partial<LicenseFacts>; thenPresent: boolean }>([
      { behaviour: 'keeps a license expiring after now', given: { expiresAt: '2025-06-01T12:00:00.001Z' }, thenPresent: true },
      {
        behaviour: 'drops a license expiring exactly at now',
        given: { expiresAt: '2025-06-01T12:00:00.000Z' },
        thenPresent: false,
      },
      {
        behaviour: 'drops a license that expired before now',
        given: { expiresAt: '2025-05-31T12:00:00.000Z' },
        thenPresent: false,
      },
      {
        behaviour: 'compares instants, not strings, across offsets',
        given: { expiresAt: '2025-06-01T13:00:00.000+02:00' },
        thenPresent: false,
      },
      { behaviour: 'keeps a perpetual license', given: { expiresAt: null }, thenPresent: true },
      {
        behaviour: 'drops a revoked license',
        given: { status: 'revoked', revokedAt: '2025-05-01T00:00:00.000Z' },
        thenPresent: false,
      },
      {
        behaviour: 'drops a revoked perpetual license',
        given: { expiresAt: null, status: 'revoked', revokedAt: '2025-05-01T00:00:00.000Z' },
        thenPresent: false,
      },
    ])('$behaviour', ({ given, thenPresent }) => {
      const set = effectiveSet({ as: 'standalone', own: [license(1, PRIMARY, 'IPS', given)] });
      expect(skusOf(set)).toEqual(thenPresent ? ['IPS'] : []);
    });
  });

  describe('when several licenses grant the same SKU', () => {
    it.each<{ behaviour: string; given: Given; then: { expiresAt: string | null; trial: boolean } }>([
      {
        behaviour: 'lasts until the latest expiry among its sources',
        given: {
          as: 'secondary',
          own: [license(1, SECONDARY, 'IPS', { expiresAt: LATER })],
          peer: [license(2, PRIMARY, 'IPS', { expiresAt: MUCH_LATER })],
        },
        then: { expiresAt: MUCH_LATER, trial: false },
      },
      {
        behaviour: 'is perpetual when any source is perpetual',
        given: {
          as: 'secondary',
          own: [license(1, SECONDARY, 'IPS', { expiresAt: null })],
          peer: [license(2, PRIMARY, 'IPS', { expiresAt: MUCH_LATER })],
        },
        then: { expiresAt: null, trial: false },
      },
      {
        behaviour: 'is a trial only when every source is a trial',
        given: {
          as: 'secondary',
          own: [license(1, SECONDARY, 'IPS', { trial: true })],
          peer: [license(2, PRIMARY, 'IPS', { trial: true })],
        },
        then: { expiresAt: LATER, trial: true },
      },
      {
        behaviour: 'is paid when one source is paid',
        given: {
          as: 'secondary',
          own: [license(1, SECONDARY, 'IPS', { trial: true })],
          peer: [license(2, PRIMARY, 'IPS', { trial: false })],
        },
        then: { expiresAt: LATER, trial: false },
      },
      {
        behaviour: 'ignores an expired source when computing the expiry',
        given: {
          as: 'standalone',
          own: [
            license(1, PRIMARY, 'IPS', { expiresAt: LATER }),
            license(2, PRIMARY, 'IPS', { expiresAt: '2025-01-01T00:00:00.000Z', trial: true }),
          ],
        },
        then: { expiresAt: LATER, trial: false },
      },
    ])('$behaviour', ({ given, then }) => {
      expect(entryOf(effectiveSet(given), 'IPS')).toMatchObject(then);
    });

    it('has one entry per SKU, sorted by SKU, with its catalog category', () => {
      const set = effectiveSet({
        as: 'standalone',
        own: [
          license(1, PRIMARY, 'SUPPORT_8X5'),
          license(2, PRIMARY, 'APP_CONTROL'),
          license(3, PRIMARY, 'APP_CONTROL'),
          license(4, PRIMARY, 'ZZ_UNKNOWN'),
        ],
      });
      expect(set.licenses.map(({ sku, category }) => ({ sku, category }))).toEqual([
        { sku: 'APP_CONTROL', category: 'security-service' },
        { sku: 'SUPPORT_8X5', category: 'support' },
        { sku: 'ZZ_UNKNOWN', category: 'unknown' },
      ]);
    });
  });

  describe('when deciding stateful sync', () => {
    const LICENSED_PRIMARY = [license(1, PRIMARY, 'STATEFUL_SYNC')];
    const enabled: StatefulSyncStatusV1 = { enabled: true, reason: null };
    const off = (reason: NonNullable<StatefulSyncStatusV1['reason']>): StatefulSyncStatusV1 => ({ enabled: false, reason });

    it.each<{ behaviour: string; given: Given; then: StatefulSyncStatusV1 }>([
      {
        behaviour: 'enables it on the Primary when every condition holds',
        given: { as: 'primary', own: LICENSED_PRIMARY },
        then: enabled,
      },
      {
        behaviour: 'enables it on the Secondary when every condition holds',
        given: { as: 'secondary', peer: LICENSED_PRIMARY },
        then: enabled,
      },
      {
        behaviour: 'enables it at exactly firmware 4.0',
        given: {
          as: 'secondary',
          peer: LICENSED_PRIMARY,
          self: { firmwareVersion: '4.0' },
          peerProduct: { firmwareVersion: '4.0.0' },
        },
        then: enabled,
      },
      {
        behaviour: 'reports NOT_PAIRED for a licensed standalone unit',
        given: { as: 'standalone', own: LICENSED_PRIMARY },
        then: off('NOT_PAIRED'),
      },
      {
        behaviour: 'reports MODEL_UNSUPPORTED for a model without the feature, before licensing and firmware',
        given: {
          as: 'primary',
          self: { model: 'TZ 270', firmwareVersion: '3.0' },
          peerProduct: { model: 'TZ 270', firmwareVersion: '3.0' },
        },
        then: off('MODEL_UNSUPPORTED'),
      },
      {
        behaviour: 'reports MODEL_UNSUPPORTED for a model missing from the catalog',
        given: { as: 'primary', own: LICENSED_PRIMARY, self: { model: 'NSA 9999' }, peerProduct: { model: 'NSA 9999' } },
        then: off('MODEL_UNSUPPORTED'),
      },
      {
        behaviour: "reports MODEL_UNSUPPORTED while the peer's product facts are unknown",
        given: { as: 'primary', own: LICENSED_PRIMARY, peerProduct: null },
        then: off('MODEL_UNSUPPORTED'),
      },
      {
        behaviour: "reports MODEL_UNSUPPORTED while the unit's own product facts are unknown",
        given: { as: 'secondary', peer: LICENSED_PRIMARY, self: null },
        then: off('MODEL_UNSUPPORTED'),
      },
      {
        behaviour: 'reports NOT_LICENSED without a STATEFUL_SYNC license, before firmware',
        given: { as: 'primary', self: { firmwareVersion: '3.9' } },
        then: off('NOT_LICENSED'),
      },
      {
        behaviour: 'reports NOT_LICENSED when only the Secondary holds STATEFUL_SYNC (seen from the Secondary)',
        given: { as: 'secondary', own: [license(1, SECONDARY, 'STATEFUL_SYNC')] },
        then: off('NOT_LICENSED'),
      },
      {
        behaviour: 'reports NOT_LICENSED when only the Secondary holds STATEFUL_SYNC (seen from the Primary)',
        given: { as: 'primary', peer: [license(1, SECONDARY, 'STATEFUL_SYNC')] },
        then: off('NOT_LICENSED'),
      },
      {
        behaviour: "reports NOT_LICENSED when the Primary's STATEFUL_SYNC expired",
        given: { as: 'secondary', peer: [license(1, PRIMARY, 'STATEFUL_SYNC', { expiresAt: NOW.toISOString() })] },
        then: off('NOT_LICENSED'),
      },
      {
        behaviour: "reports NOT_LICENSED when the Primary's STATEFUL_SYNC was revoked",
        given: {
          as: 'primary',
          own: [license(1, PRIMARY, 'STATEFUL_SYNC', { status: 'revoked', revokedAt: '2025-05-01T00:00:00.000Z' })],
        },
        then: off('NOT_LICENSED'),
      },
      {
        behaviour: "reports FIRMWARE_TOO_OLD when the unit's own firmware is before 4.0",
        given: { as: 'primary', own: LICENSED_PRIMARY, self: { firmwareVersion: '3.9.9' } },
        then: off('FIRMWARE_TOO_OLD'),
      },
      {
        behaviour: "reports FIRMWARE_TOO_OLD when the peer's firmware is before 4.0",
        given: { as: 'secondary', peer: LICENSED_PRIMARY, peerProduct: { firmwareVersion: '3.10' } },
        then: off('FIRMWARE_TOO_OLD'),
      },
    ])('$behaviour', ({ given, then }) => {
      expect(effectiveSet(given).statefulSync).toEqual(then);
    });

    it('reports the same status on both units of the pair', () => {
      for (const firmwareVersion of ['3.9', '4.0']) {
        const primary = effectiveSet({ as: 'primary', own: LICENSED_PRIMARY, self: { firmwareVersion } });
        const secondary = effectiveSet({ as: 'secondary', peer: LICENSED_PRIMARY, peerProduct: { firmwareVersion } });
        expect(secondary.statefulSync).toEqual(primary.statefulSync);
      }
    });
  });
});

describe('diffEffectiveSets', () => {
  const before = effectiveSet({
    as: 'secondary',
    own: [license(1, SECONDARY, 'IPS'), license(2, SECONDARY, 'APP_CONTROL')],
    peer: [
      license(3, PRIMARY, 'GATEWAY_AV'),
      license(4, PRIMARY, 'SUPPORT_24X7'),
      license(5, PRIMARY, 'ANTI_SPYWARE', { trial: true }),
    ],
  });

  describe('when there was no set before', () => {
    it('lists every SKU as added', () => {
      expect(diffEffectiveSets(null, before)).toEqual({
        added: ['ANTI_SPYWARE', 'APP_CONTROL', 'GATEWAY_AV', 'IPS', 'SUPPORT_24X7'],
        removed: [],
        changed: [],
      });
    });
  });

  describe('when a set is recomputed', () => {
    it.each<{ behaviour: string; given: Given; then: ReturnType<typeof diffEffectiveSets> }>([
      {
        behaviour: 'reports nothing when nothing changed',
        given: {
          as: 'secondary',
          own: [license(1, SECONDARY, 'IPS'), license(2, SECONDARY, 'APP_CONTROL')],
          peer: [
            license(3, PRIMARY, 'GATEWAY_AV'),
            license(4, PRIMARY, 'SUPPORT_24X7'),
            license(5, PRIMARY, 'ANTI_SPYWARE', { trial: true }),
          ],
        },
        then: { added: [], removed: [], changed: [] },
      },
      {
        behaviour: 'reports added, removed and changed SKUs separately',
        given: {
          as: 'secondary',
          own: [license(1, SECONDARY, 'IPS', { expiresAt: MUCH_LATER }), license(6, SECONDARY, 'CAPTURE_ATP')],
          peer: [
            license(3, PRIMARY, 'GATEWAY_AV'),
            license(7, PRIMARY, 'GATEWAY_AV'),
            license(4, PRIMARY, 'SUPPORT_24X7'),
            license(5, PRIMARY, 'ANTI_SPYWARE', { trial: false }),
          ],
        },
        // IPS: expiry; GATEWAY_AV: a second source; ANTI_SPYWARE: no longer a trial.
        then: { added: ['CAPTURE_ATP'], removed: ['APP_CONTROL'], changed: ['ANTI_SPYWARE', 'GATEWAY_AV', 'IPS'] },
      },
      {
        behaviour: 'removes everything received from the Primary after dissociation',
        given: { as: 'standalone', standaloneSerial: SECONDARY },
        then: { added: [], removed: ['ANTI_SPYWARE', 'APP_CONTROL', 'GATEWAY_AV', 'IPS', 'SUPPORT_24X7'], changed: [] },
      },
      {
        behaviour: 'keeps own licenses after dissociation',
        given: {
          as: 'standalone',
          standaloneSerial: SECONDARY,
          own: [license(1, SECONDARY, 'IPS'), license(2, SECONDARY, 'APP_CONTROL')],
        },
        then: { added: [], removed: ['ANTI_SPYWARE', 'GATEWAY_AV', 'SUPPORT_24X7'], changed: [] },
      },
    ])('$behaviour', ({ given, then }) => {
      expect(diffEffectiveSets(before, effectiveSet(given))).toEqual(then);
    });
  });
});

describe('isSameEffectiveSet', () => {
  const base: Given = { as: 'secondary', own: [license(1, SECONDARY, 'IPS')], peer: [license(2, PRIMARY, 'STATEFUL_SYNC')] };

  describe('when two sets are compared', () => {
    it.each<{ behaviour: string; given: Given; thenSame: boolean }>([
      { behaviour: 'holds for a recomputation from the same facts', given: base, thenSame: true },
      {
        behaviour: 'notices a different role and peer',
        given: { ...base, as: 'standalone', standaloneSerial: SECONDARY },
        thenSame: false,
      },
      {
        behaviour: 'notices a different stateful sync status',
        given: { ...base, peerProduct: { firmwareVersion: '3.0' } },
        thenSame: false,
      },
      {
        behaviour: 'notices a different license',
        given: { ...base, own: [license(1, SECONDARY, 'IPS', { trial: true })] },
        thenSame: false,
      },
    ])('$behaviour', ({ given, thenSame }) => {
      expect(isSameEffectiveSet(effectiveSet(base), effectiveSet(given))).toBe(thenSame);
    });

    it.each<{ behaviour: string; given: Given }>([
      {
        behaviour: 'notices a new event behind the same license (its provenance)',
        given: { ...base, own: [{ ...license(1, SECONDARY, 'IPS'), eventId: eventOf(99) }] },
      },
      {
        behaviour: 'notices an entry entering the expiry warning window',
        given: { ...base, warningWindowDays: 400 },
      },
    ])('$behaviour, and reports the SKU as changed', ({ given }) => {
      expect(isSameEffectiveSet(effectiveSet(base), effectiveSet(given))).toBe(false);
      expect(diffEffectiveSets(effectiveSet(base), effectiveSet(given))).toEqual({ added: [], removed: [], changed: ['IPS'] });
    });

    it('notices a change the SKU diff does not report, such as the pair id', () => {
      const set = effectiveSet(base);
      const repaired = { ...set, pairId: '7d1c5a0e-0000-4000-8000-000000000002' };
      expect(diffEffectiveSets(set, repaired)).toEqual({ added: [], removed: [], changed: [] });
      expect(isSameEffectiveSet(set, repaired)).toBe(false);
    });
  });
});

describe('changedFieldsOf', () => {
  const base: Given = { as: 'secondary', own: [license(1, SECONDARY, 'IPS')], peer: [license(2, PRIMARY, 'STATEFUL_SYNC')] };

  it.each<{ behaviour: string; given: Given; then: ReturnType<typeof changedFieldsOf> }>([
    { behaviour: 'names nothing for a recomputation from the same facts', given: base, then: [] },
    {
      behaviour: 'names role, peer, pair and stateful sync, not licenses, when a Secondary with nothing shared is dissociated',
      given: { ...base, as: 'standalone', standaloneSerial: SECONDARY },
      then: ['role', 'peerSerial', 'pairId', 'statefulSync'],
    },
    {
      behaviour: 'names only stateful sync when a firmware downgrade turns it off',
      given: { ...base, peerProduct: { firmwareVersion: '3.0' } },
      then: ['statefulSync'],
    },
    {
      behaviour: 'names only licenses when a license changes',
      given: { ...base, own: [license(1, SECONDARY, 'IPS', { trial: true })] },
      then: ['licenses'],
    },
  ])('$behaviour', ({ given, then }) => {
    expect(changedFieldsOf(effectiveSet(base), effectiveSet(given))).toEqual(then);
  });

  it('names every field of a first set', () => {
    expect(changedFieldsOf(null, effectiveSet(base))).toEqual(['role', 'peerSerial', 'pairId', 'licenses', 'statefulSync']);
  });

  it('names licenses exactly when the SKU deltas are not all empty', () => {
    const set = effectiveSet(base);
    const repaired = { ...set, pairId: '7d1c5a0e-0000-4000-8000-000000000002' };
    expect(changedFieldsOf(set, repaired)).toEqual(['pairId']);
    expect(diffEffectiveSets(set, repaired)).toEqual({ added: [], removed: [], changed: [] });
  });
});
