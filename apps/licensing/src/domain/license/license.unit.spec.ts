import { describe, expect, it } from '@jest/globals';
import { EntitlementChangedV1, fold, licenseStatusAt, type LicenseStateV1 } from '#shared/contracts';
import { specFor } from '#shared/testing/decider';
import type { GrantLicense, LicensedProduct, RenewLicense, RevokeLicense } from './license.commands.js';
import { licenseDecider } from './license.decide.js';
import type { LicenseChange, LicenseEvent } from './license.events.js';

const LICENSE_ID = '3f1c2a4e-8b7d-4c6e-9a1f-2b3c4d5e6f70';
const SERIAL = '0040103A1B2C';
const GRANTED_AT = '2026-01-01T00:00:00.000Z';
const NOW = new Date('2026-03-01T12:00:00.000Z');
const NOW_ISO = NOW.toISOString();
const EXPIRES_AT = '2027-01-01T00:00:00.000Z';
const NSA: LicensedProduct = { serial: SERIAL, model: 'NSA 2700' };
const TZ: LicensedProduct = { serial: SERIAL, model: 'TZ 370' };

function grant(data: Partial<GrantLicense['data']> = {}, product: LicensedProduct | null = NSA): GrantLicense {
  return {
    type: 'GrantLicense',
    data: { licenseId: LICENSE_ID, serial: SERIAL, sku: 'GATEWAY_AV', expiresAt: EXPIRES_AT, trial: false, ...data },
    context: { product },
    metadata: { now: NOW },
  };
}

function renew(expiresAt: string): RenewLicense {
  return { type: 'RenewLicense', data: { licenseId: LICENSE_ID, expiresAt }, metadata: { now: NOW } };
}

const revoke: RevokeLicense = { type: 'RevokeLicense', data: { licenseId: LICENSE_ID }, metadata: { now: NOW } };

function license(overrides: Partial<LicenseStateV1> = {}): LicenseStateV1 {
  return {
    licenseId: LICENSE_ID,
    serial: SERIAL,
    sku: 'GATEWAY_AV',
    trial: false,
    expiresAt: EXPIRES_AT,
    status: 'active',
    grantedAt: GRANTED_AT,
    revokedAt: null,
    ...overrides,
  };
}

function changed(change: LicenseChange, after: LicenseStateV1, changedAt: string): LicenseEvent {
  return { type: 'EntitlementChanged', data: { change, license: after, changedAt } };
}

const granted = (overrides: Partial<LicenseStateV1> = {}) => changed('granted', license(overrides), GRANTED_AT);
const revokedEarlier = changed(
  'revoked',
  license({ status: 'revoked', revokedAt: '2026-02-01T00:00:00.000Z' }),
  '2026-02-01T00:00:00.000Z',
);

const spec = specFor(licenseDecider);

describe('License decider', () => {
  describe('when no license was granted', () => {
    it.each<[string, Partial<GrantLicense['data']>, LicensedProduct]>([
      ['a paid license with an expiry', {}, NSA],
      ['a perpetual license', { expiresAt: null }, NSA],
      ['a trial license', { trial: true, expiresAt: '2026-03-31T00:00:00.000Z' }, NSA],
      ['Stateful Synchronization on a model that supports it', { sku: 'STATEFUL_SYNC', expiresAt: null }, NSA],
      ['a non-upgrade SKU on a model without Stateful Synchronization', {}, TZ],
    ])('grants %s', (_, data, product) => {
      const command = grant(data, product);
      spec
        .given([])
        .when(command)
        .then([changed('granted', license({ ...command.data, grantedAt: NOW_ISO }), NOW_ISO)]);
    });

    it.each<[string, GrantLicense, string]>([
      ['a SKU missing from the catalog', grant({ sku: 'FOO' }), 'UNKNOWN_SKU'],
      ['a trial without an expiry', grant({ trial: true, expiresAt: null }), 'TRIAL_REQUIRES_EXPIRY'],
      ['an expiry that is not an instant', grant({ expiresAt: 'next year' }), 'INVALID_EXPIRY'],
      ['an expiry without a time zone offset', grant({ expiresAt: '2027-01-01T00:00:00' }), 'INVALID_EXPIRY'],
      ['an expiry in the past', grant({ expiresAt: '2026-02-01T00:00:00.000Z' }), 'EXPIRY_IN_PAST'],
      ['an expiry exactly now', grant({ expiresAt: NOW_ISO }), 'EXPIRY_IN_PAST'],
      ['an unknown serial', grant({}, null), 'PRODUCT_NOT_FOUND'],
      ['Stateful Synchronization on a model without it', grant({ sku: 'STATEFUL_SYNC' }, TZ), 'STATEFUL_SYNC_UNSUPPORTED'],
      [
        'Stateful Synchronization on a model missing from the catalog',
        grant({ sku: 'STATEFUL_SYNC' }, { serial: SERIAL, model: 'NSA 9999' }),
        'STATEFUL_SYNC_UNSUPPORTED',
      ],
    ])('rejects a grant with %s', (_, command, code) => {
      spec.given([]).when(command).thenThrows(code);
    });

    it.each<[string, GrantLicense, string]>([
      ['an unknown SKU before a trial without expiry', grant({ sku: 'FOO', trial: true, expiresAt: null }, null), 'UNKNOWN_SKU'],
      ['a trial without expiry before an unknown serial', grant({ trial: true, expiresAt: null }, null), 'TRIAL_REQUIRES_EXPIRY'],
      ['an expiry in the past before an unknown serial', grant({ expiresAt: GRANTED_AT }, null), 'EXPIRY_IN_PAST'],
      ['an unknown serial before the model check', grant({ sku: 'STATEFUL_SYNC' }, null), 'PRODUCT_NOT_FOUND'],
    ])('reports %s', (_, command, code) => {
      spec.given([]).when(command).thenThrows(code);
    });

    it('names the SKU in the message', () => {
      expect(() => licenseDecider.decide(grant({ sku: 'FOO' }), licenseDecider.initialState)).toThrow(
        'SKU "FOO" is not in the license catalog',
      );
    });

    it.each<[string, RenewLicense | RevokeLicense]>([
      ['renewal', renew(EXPIRES_AT)],
      ['revocation', revoke],
    ])('rejects a %s of a license that does not exist', (_, command) => {
      spec.given([]).when(command).thenThrows('LICENSE_NOT_FOUND');
    });
  });

  describe('when active', () => {
    it('rejects a second grant of the same license', () => {
      spec.given([granted()]).when(grant()).thenThrows('LICENSE_ALREADY_EXISTS');
    });

    it('checks the grant itself before whether the license exists', () => {
      spec
        .given([granted()])
        .when(grant({ sku: 'FOO' }))
        .thenThrows('UNKNOWN_SKU');
    });

    it('renews to a later expiry', () => {
      spec
        .given([granted()])
        .when(renew('2028-01-01T00:00:00.000Z'))
        .then([changed('renewed', license({ expiresAt: '2028-01-01T00:00:00.000Z' }), NOW_ISO)]);
    });

    it('keeps the trial flag on a renewal', () => {
      const trial = { trial: true, expiresAt: '2026-03-31T00:00:00.000Z' };
      spec
        .given([granted(trial)])
        .when(renew('2026-04-30T00:00:00.000Z'))
        .then([changed('renewed', license({ ...trial, expiresAt: '2026-04-30T00:00:00.000Z' }), NOW_ISO)]);
    });

    it('compares a renewal with the expiry of the latest renewal', () => {
      const renewed = changed('renewed', license({ expiresAt: '2028-01-01T00:00:00.000Z' }), '2026-02-01T00:00:00.000Z');
      spec.given([granted(), renewed]).when(renew('2027-06-01T00:00:00.000Z')).thenThrows('RENEWAL_NOT_LATER');
    });

    it.each<[string, string, string]>([
      ['an expiry that is not an instant', 'soon', 'INVALID_EXPIRY'],
      ['an expiry in the past', '2026-02-01T00:00:00.000Z', 'EXPIRY_IN_PAST'],
      ['an expiry exactly now', NOW_ISO, 'EXPIRY_IN_PAST'],
      ['the current expiry', EXPIRES_AT, 'RENEWAL_NOT_LATER'],
      ['an expiry after now but before the current one', '2026-06-01T00:00:00.000Z', 'RENEWAL_NOT_LATER'],
      // Textually later than the current expiry, but an hour earlier as an instant.
      ['an earlier instant written with an offset', '2027-01-01T01:00:00+02:00', 'RENEWAL_NOT_LATER'],
    ])('rejects a renewal to %s', (_, expiresAt, code) => {
      spec.given([granted()]).when(renew(expiresAt)).thenThrows(code);
    });

    it('rejects a renewal of a perpetual license', () => {
      spec
        .given([granted({ expiresAt: null })])
        .when(renew(EXPIRES_AT))
        .thenThrows('LICENSE_PERPETUAL');
    });

    it('revokes the license', () => {
      spec
        .given([granted()])
        .when(revoke)
        .then([changed('revoked', license({ status: 'revoked', revokedAt: NOW_ISO }), NOW_ISO)]);
    });
  });

  describe('when active but expired', () => {
    const expiredTrial = granted({ trial: true, expiresAt: '2026-02-01T00:00:00.000Z' });

    it('renews the license, which makes it usable again', () => {
      const renewedTo = '2026-04-01T00:00:00.000Z';
      const events = licenseDecider.decide(renew(renewedTo), fold(licenseDecider, [expiredTrial]));
      expect(events).toEqual([changed('renewed', license({ trial: true, expiresAt: renewedTo }), NOW_ISO)]);
      expect(licenseStatusAt(events[0]!.data.license, NOW)).toBe('active');
    });

    it('rejects a renewal to an expiry that has also passed', () => {
      spec.given([expiredTrial]).when(renew('2026-02-15T00:00:00.000Z')).thenThrows('EXPIRY_IN_PAST');
    });

    it('revokes the license', () => {
      spec
        .given([expiredTrial])
        .when(revoke)
        .then([
          changed(
            'revoked',
            license({ trial: true, expiresAt: '2026-02-01T00:00:00.000Z', status: 'revoked', revokedAt: NOW_ISO }),
            NOW_ISO,
          ),
        ]);
    });
  });

  describe('when revoked', () => {
    it.each<[string, GrantLicense | RenewLicense | RevokeLicense, string]>([
      ['a renewal of a revoked license', renew('2028-01-01T00:00:00.000Z'), 'LICENSE_REVOKED'],
      ['a second revocation', revoke, 'LICENSE_REVOKED'],
      ['a new grant under the revoked license id', grant(), 'LICENSE_ALREADY_EXISTS'],
    ])('rejects %s', (_, command, code) => {
      spec.given([granted(), revokedEarlier]).when(command).thenThrows(code);
    });
  });

  describe('evolve', () => {
    it.each<[string, LicenseEvent[], string]>([
      ['no events', [], 'none'],
      ['a grant', [granted()], 'active'],
      ['a grant and a revocation', [granted(), revokedEarlier], 'revoked'],
    ])('folds %s into the matching state', (_, events, status) => {
      expect(fold(licenseDecider, events).status).toBe(status);
    });

    it('keeps the full license of the latest event', () => {
      expect(fold(licenseDecider, [granted(), revokedEarlier])).toEqual({
        status: 'revoked',
        license: revokedEarlier.data.license,
        warnedFor: null,
        expiryRecordedFor: null,
      });
    });
  });

  describe('every event it emits', () => {
    it.each<[string, LicenseEvent[], GrantLicense | RenewLicense | RevokeLicense]>([
      ['a grant', [], grant({ expiresAt: '2027-01-01T01:00:00+02:00' })],
      ['a renewal', [granted()], renew('2028-01-01T00:00:00Z')],
      ['a revocation', [granted()], revoke],
    ])('passes the published schema after %s', (_, given, command) => {
      for (const event of licenseDecider.decide(command, fold(licenseDecider, given))) {
        expect(EntitlementChangedV1.safeParse(event.data).success).toBe(true);
      }
    });
  });
});
