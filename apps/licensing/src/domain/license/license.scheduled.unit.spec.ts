import { describe, expect, it } from '@jest/globals';
import { EntitlementChangedV1, EntitlementExpiringSoonV1, fold, licenseStatusAt, type LicenseStateV1 } from '#shared/contracts';
import { specFor } from '#shared/testing/decider';
import type { LicenseCommand, RecordExpiry, TransferLicense, WarnExpiringSoon } from './license.commands.js';
import { licenseDecider } from './license.decide.js';
import type { LicenseChange, LicenseEvent } from './license.events.js';

// The scheduler's commands (RecordExpiry, WarnExpiringSoon) and the replacement's (TransferLicense): each is
// idempotent, so "nothing to do" is an empty list of events, never an error.

const LICENSE_ID = '3f1c2a4e-8b7d-4c6e-9a1f-2b3c4d5e6f70';
const SERIAL = '0040103A1B2C';
const SUCCESSOR = '0040103A9999';
const ELSEWHERE = '00401030CCCC';
const GRANTED_AT = '2026-01-01T00:00:00.000Z';
const NOW = new Date('2026-03-01T12:00:00.000Z');
const NOW_ISO = NOW.toISOString();
const WINDOW = 30;
const PAST = '2026-02-01T00:00:00.000Z';
const IN_10_DAYS = '2026-03-11T12:00:00.000Z';
const IN_20_DAYS = '2026-03-21T12:00:00.000Z';
const IN_30_DAYS = '2026-03-31T12:00:00.000Z';
const IN_30_DAYS_AND_A_MS = '2026-03-31T12:00:00.001Z';
const NEXT_YEAR = '2027-01-01T00:00:00.000Z';

const recordExpiry: RecordExpiry = { type: 'RecordExpiry', data: { licenseId: LICENSE_ID }, metadata: { now: NOW } };

function warn(windowDays = WINDOW): WarnExpiringSoon {
  return { type: 'WarnExpiringSoon', data: { licenseId: LICENSE_ID, windowDays }, metadata: { now: NOW } };
}

function transfer(fromSerial = SERIAL, toSerial = SUCCESSOR): TransferLicense {
  return { type: 'TransferLicense', data: { licenseId: LICENSE_ID, fromSerial, toSerial }, metadata: { now: NOW } };
}

function license(overrides: Partial<LicenseStateV1> = {}): LicenseStateV1 {
  return {
    licenseId: LICENSE_ID,
    serial: SERIAL,
    sku: 'GATEWAY_AV',
    trial: false,
    expiresAt: NEXT_YEAR,
    status: 'active',
    grantedAt: GRANTED_AT,
    revokedAt: null,
    ...overrides,
  };
}

function changed(change: LicenseChange, after: LicenseStateV1, changedAt: string, transferredFrom?: string): LicenseEvent {
  return {
    type: 'EntitlementChanged',
    data: { change, license: after, changedAt, ...(transferredFrom === undefined ? {} : { transferredFrom }) },
  };
}

function expiringSoon(after: LicenseStateV1, warnedAt = NOW_ISO, windowDays = WINDOW): LicenseEvent {
  return { type: 'EntitlementExpiringSoon', data: { license: after, windowDays, warnedAt } };
}

const granted = (overrides: Partial<LicenseStateV1> = {}) => changed('granted', license(overrides), GRANTED_AT);
const renewed = (expiresAt: string, at = '2026-01-15T00:00:00.000Z') => changed('renewed', license({ expiresAt }), at);
const expiredAt = (expiresAt: string) => changed('expired', license({ expiresAt }), expiresAt);
const revoked = (overrides: Partial<LicenseStateV1> = {}) =>
  changed(
    'revoked',
    license({ status: 'revoked', revokedAt: '2026-01-20T00:00:00.000Z', ...overrides }),
    '2026-01-20T00:00:00.000Z',
  );

const spec = specFor(licenseDecider);

describe('RecordExpiry', () => {
  describe('when the license does not exist', () => {
    it('rejects it', () => {
      spec.given([]).when(recordExpiry).thenThrows('LICENSE_NOT_FOUND');
    });
  });

  describe('when active', () => {
    it.each<[string, LicenseEvent[], string]>([
      ['a license whose expiry passed', [granted({ expiresAt: PAST })], PAST],
      ['a trial that expires exactly now', [granted({ trial: true, expiresAt: NOW_ISO })], NOW_ISO],
      [
        'a license renewed, then expired at its new expiry',
        [granted({ expiresAt: PAST }), renewed('2026-02-15T00:00:00.000Z')],
        '2026-02-15T00:00:00.000Z',
      ],
      [
        'a second expiry after a renewal of an expired license',
        [granted({ expiresAt: PAST }), expiredAt(PAST), renewed('2026-02-15T00:00:00.000Z', '2026-02-10T00:00:00.000Z')],
        '2026-02-15T00:00:00.000Z',
      ],
    ])('records the expiry of %s, at the expiry instant, with the license unchanged', (_, given, expiresAt) => {
      const current = fold(licenseDecider, given);
      if (current.status !== 'active') throw new Error('expected an active license');
      spec
        .given(given)
        .when(recordExpiry)
        .then([changed('expired', current.license, expiresAt)]);
    });

    it('writes the expiry instant in UTC when the expiry was written with an offset', () => {
      const expiresAt = '2026-02-01T02:00:00+02:00';
      spec
        .given([granted({ expiresAt })])
        .when(recordExpiry)
        .then([changed('expired', license({ expiresAt }), PAST)]);
    });

    it('records the expiry of a license on the unit it was transferred to', () => {
      const moved = changed('transferred', license({ serial: SUCCESSOR, expiresAt: PAST }), '2026-01-10T00:00:00.000Z', SERIAL);
      spec
        .given([granted({ expiresAt: PAST }), moved])
        .when(recordExpiry)
        .then([changed('expired', license({ serial: SUCCESSOR, expiresAt: PAST }), PAST)]);
    });

    it.each<[string, LicenseEvent[]]>([
      ['before the expiry', [granted()]],
      ['a millisecond before the expiry', [granted({ expiresAt: '2026-03-01T12:00:00.001Z' })]],
      ['for a perpetual license', [granted({ expiresAt: null })]],
      ['when this expiry was already recorded', [granted({ expiresAt: PAST }), expiredAt(PAST)]],
      [
        'when this expiry was already recorded, written with another offset',
        [
          granted({ expiresAt: '2026-02-01T02:00:00+02:00' }),
          changed('expired', license({ expiresAt: '2026-02-01T02:00:00+02:00' }), PAST),
        ],
      ],
      [
        'when a renewal after the recorded expiry moved it to the future',
        [granted({ expiresAt: PAST }), expiredAt(PAST), renewed(NEXT_YEAR)],
      ],
    ])('records nothing %s', (_, given) => {
      spec.given(given).when(recordExpiry).then([]);
    });
  });

  describe('when revoked', () => {
    it.each<[string, LicenseEvent[]]>([
      ['before its expiry', [granted(), revoked()]],
      ['past its expiry', [granted({ expiresAt: PAST }), revoked({ expiresAt: PAST })]],
    ])('records nothing %s', (_, given) => {
      spec.given(given).when(recordExpiry).then([]);
    });
  });
});

describe('WarnExpiringSoon', () => {
  describe('when the license does not exist', () => {
    it('rejects it', () => {
      spec.given([]).when(warn()).thenThrows('LICENSE_NOT_FOUND');
    });
  });

  describe('when active', () => {
    it.each<[string, LicenseEvent[], string]>([
      ['an expiry 10 days away', [granted({ expiresAt: IN_10_DAYS })], IN_10_DAYS],
      ['an expiry exactly at the end of the window', [granted({ expiresAt: IN_30_DAYS })], IN_30_DAYS],
      ['a trial expiring in 10 days', [granted({ trial: true, expiresAt: IN_10_DAYS })], IN_10_DAYS],
      [
        'a renewal to another expiry inside the window',
        [
          granted({ expiresAt: IN_10_DAYS }),
          expiringSoon(license({ expiresAt: IN_10_DAYS }), '2026-02-28T00:00:00.000Z'),
          renewed(IN_20_DAYS),
        ],
        IN_20_DAYS,
      ],
      [
        'an expiry renewed after it was recorded as passed',
        [granted({ expiresAt: PAST }), expiredAt(PAST), renewed(IN_10_DAYS, '2026-02-10T00:00:00.000Z')],
        IN_10_DAYS,
      ],
    ])('warns once about %s', (_, given, expiresAt) => {
      const current = fold(licenseDecider, given);
      if (current.status !== 'active') throw new Error('expected an active license');
      spec
        .given(given)
        .when(warn())
        .then([expiringSoon({ ...current.license, expiresAt })]);
    });

    it('says which window it warned for', () => {
      spec
        .given([granted({ expiresAt: IN_10_DAYS })])
        .when(warn(14))
        .then([expiringSoon(license({ expiresAt: IN_10_DAYS }), NOW_ISO, 14)]);
    });

    it.each<[string, LicenseEvent[], number]>([
      ['an expiry a millisecond past the window', [granted({ expiresAt: IN_30_DAYS_AND_A_MS })], WINDOW],
      ['an expiry 10 days away with a window of 7 days', [granted({ expiresAt: IN_10_DAYS })], 7],
      ['an expiry that has passed', [granted({ expiresAt: PAST })], WINDOW],
      ['an expiry exactly now', [granted({ expiresAt: NOW_ISO })], WINDOW],
      ['a perpetual license', [granted({ expiresAt: null })], WINDOW],
      [
        'an expiry it already warned about',
        [granted({ expiresAt: IN_10_DAYS }), expiringSoon(license({ expiresAt: IN_10_DAYS }))],
        WINDOW,
      ],
      [
        'an expiry it already warned about with another window',
        [granted({ expiresAt: IN_10_DAYS }), expiringSoon(license({ expiresAt: IN_10_DAYS }), NOW_ISO, 60)],
        WINDOW,
      ],
      [
        'an expiry moved beyond the window by a renewal',
        [granted({ expiresAt: IN_10_DAYS }), expiringSoon(license({ expiresAt: IN_10_DAYS })), renewed(NEXT_YEAR)],
        WINDOW,
      ],
      [
        'an expiry it warned about before the license was transferred',
        [
          granted({ expiresAt: IN_10_DAYS }),
          expiringSoon(license({ expiresAt: IN_10_DAYS })),
          changed('transferred', license({ serial: SUCCESSOR, expiresAt: IN_10_DAYS }), NOW_ISO, SERIAL),
        ],
        WINDOW,
      ],
    ])('warns about nothing for %s', (_, given, windowDays) => {
      spec.given(given).when(warn(windowDays)).then([]);
    });
  });

  describe('when revoked', () => {
    it('warns about nothing, even inside the window', () => {
      spec
        .given([granted({ expiresAt: IN_10_DAYS }), revoked({ expiresAt: IN_10_DAYS })])
        .when(warn())
        .then([]);
    });
  });

  it.each<[string, number]>([
    ['zero days', 0],
    ['a negative window', -5],
    ['a fraction of a day', 1.5],
  ])('rejects a window of %s', (_, windowDays) => {
    spec
      .given([granted({ expiresAt: IN_10_DAYS })])
      .when(warn(windowDays))
      .thenThrows('INVALID_WARNING_WINDOW');
  });
});

describe('TransferLicense', () => {
  describe('when the license does not exist', () => {
    it('rejects it', () => {
      spec.given([]).when(transfer()).thenThrows('LICENSE_NOT_FOUND');
    });
  });

  describe('when active', () => {
    it.each<[string, Partial<LicenseStateV1>]>([
      ['a dated license', {}],
      ['a perpetual license', { expiresAt: null }],
      ['a trial', { trial: true, expiresAt: IN_10_DAYS }],
      ['a license past its expiry (a renewal must still reach it)', { expiresAt: PAST }],
    ])('moves %s to the successor, keeping everything else', (_, overrides) => {
      spec
        .given([granted(overrides)])
        .when(transfer())
        .then([changed('transferred', license({ ...overrides, serial: SUCCESSOR }), NOW_ISO, SERIAL)]);
    });

    it('moves a license on again from the unit it was transferred to', () => {
      const moved = changed('transferred', license({ serial: SUCCESSOR }), '2026-02-01T00:00:00.000Z', SERIAL);
      spec
        .given([granted(), moved])
        .when(transfer(SUCCESSOR, ELSEWHERE))
        .then([changed('transferred', license({ serial: ELSEWHERE }), NOW_ISO, SUCCESSOR)]);
    });

    it.each<[string, LicenseEvent[], TransferLicense]>([
      [
        'a license already on the successor',
        [granted(), changed('transferred', license({ serial: SUCCESSOR }), '2026-02-01T00:00:00.000Z', SERIAL)],
        transfer(),
      ],
      [
        'a license that moved on from the successor since',
        [
          granted(),
          changed('transferred', license({ serial: SUCCESSOR }), '2026-02-01T00:00:00.000Z', SERIAL),
          changed('transferred', license({ serial: ELSEWHERE }), '2026-02-02T00:00:00.000Z', SUCCESSOR),
        ],
        transfer(),
      ],
      ['a license on another unit than the failed one', [granted({ serial: ELSEWHERE })], transfer()],
      ['a transfer to the unit it is on', [granted()], transfer(SERIAL, SERIAL)],
    ])('moves nothing for %s', (_, given, command) => {
      spec.given(given).when(command).then([]);
    });

    it.each<[string, TransferLicense]>([
      ['to', transfer(SERIAL, 'not-a-serial')],
      ['from', transfer('0040103a1b2c', SUCCESSOR)],
    ])('rejects a malformed serial to move %s', (_, command) => {
      spec.given([granted()]).when(command).thenThrows('INVALID_SERIAL');
    });
  });

  describe('when revoked', () => {
    it('leaves the license where it is', () => {
      spec.given([granted(), revoked()]).when(transfer()).then([]);
    });
  });
});

describe('evolve with the scheduler and transfer events', () => {
  it.each<[string, LicenseEvent[], { warnedFor: string | null; expiryRecordedFor: string | null }]>([
    ['a grant', [granted({ expiresAt: IN_10_DAYS })], { warnedFor: null, expiryRecordedFor: null }],
    [
      'a warning',
      [granted({ expiresAt: IN_10_DAYS }), expiringSoon(license({ expiresAt: IN_10_DAYS }))],
      { warnedFor: IN_10_DAYS, expiryRecordedFor: null },
    ],
    [
      'a warning, then the recorded expiry',
      [granted({ expiresAt: PAST }), expiringSoon(license({ expiresAt: PAST }), GRANTED_AT), expiredAt(PAST)],
      { warnedFor: PAST, expiryRecordedFor: PAST },
    ],
    [
      'a recorded expiry, then a renewal (the trackers keep the old expiry, which no longer matches)',
      [granted({ expiresAt: PAST }), expiredAt(PAST), renewed(NEXT_YEAR)],
      { warnedFor: null, expiryRecordedFor: PAST },
    ],
  ])('tracks which expiry was acted on after %s', (_, events, tracking) => {
    expect(fold(licenseDecider, events)).toEqual(expect.objectContaining(tracking));
  });

  it('keeps the license as it was when its expiry is recorded: active, and expired by the clock', () => {
    const state = fold(licenseDecider, [granted({ expiresAt: PAST }), expiredAt(PAST)]);
    expect(state).toEqual({ status: 'active', license: license({ expiresAt: PAST }), warnedFor: null, expiryRecordedFor: PAST });
    if (state.status === 'none') throw new Error('expected a license');
    expect(licenseStatusAt(state.license, NOW)).toBe('expired');
  });

  it('puts the license on the successor after a transfer', () => {
    const state = fold(licenseDecider, [granted(), changed('transferred', license({ serial: SUCCESSOR }), NOW_ISO, SERIAL)]);
    expect(state).toEqual(expect.objectContaining({ status: 'active', license: license({ serial: SUCCESSOR }) }));
  });

  it('keeps a revoked license revoked after a warning issued before the revocation', () => {
    const state = fold(licenseDecider, [
      granted({ expiresAt: IN_10_DAYS }),
      expiringSoon(license({ expiresAt: IN_10_DAYS })),
      revoked({ expiresAt: IN_10_DAYS }),
    ]);
    expect(state).toEqual(expect.objectContaining({ status: 'revoked', warnedFor: IN_10_DAYS }));
  });
});

describe('every event the scheduler and the transfer emit', () => {
  it.each<[string, LicenseEvent[], LicenseCommand]>([
    ['a recorded expiry', [granted({ expiresAt: '2026-02-01T02:00:00+02:00' })], recordExpiry],
    ['a warning', [granted({ expiresAt: IN_10_DAYS })], warn()],
    ['a transfer', [granted()], transfer()],
  ])('passes the published schema after %s', (_, given, command) => {
    const events = licenseDecider.decide(command, fold(licenseDecider, given));
    expect(events).toHaveLength(1);
    for (const event of events) {
      const schema = event.type === 'EntitlementChanged' ? EntitlementChangedV1 : EntitlementExpiringSoonV1;
      expect(schema.safeParse(event.data).success).toBe(true);
    }
  });
});
