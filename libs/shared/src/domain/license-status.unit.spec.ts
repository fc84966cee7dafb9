import { describe, expect, it } from '@jest/globals';
import {
  hasExpiredAt,
  isExpiringSoonAt,
  isLicenseUsableAt,
  isReachedAt,
  isSameInstant,
  latestExpiry,
  licenseStatusAt,
  warningStartsAt,
  warningWindowEndAt,
  type LicenseStatus,
  type LicenseValidity,
} from './license-status.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const NOW_ISO = NOW.toISOString();
const A_MS_AGO = '2026-03-01T11:59:59.999Z';
const IN_A_MS = '2026-03-01T12:00:00.001Z';
const IN_10_DAYS = '2026-03-11T12:00:00.000Z';
const IN_30_DAYS = '2026-03-31T12:00:00.000Z';
const IN_30_DAYS_AND_A_MS = '2026-03-31T12:00:00.001Z';
// 13:00+02:00 is 11:00Z: textually after now, but an hour in the past.
const AN_HOUR_AGO_WITH_OFFSET = '2026-03-01T13:00:00+02:00';

const active = (expiresAt: string | null): LicenseValidity => ({ status: 'active', expiresAt });
const revoked = (expiresAt: string | null): LicenseValidity => ({ status: 'revoked', expiresAt });

describe('licenseStatusAt and isLicenseUsableAt', () => {
  it.each<{ behaviour: string; given: LicenseValidity; then: LicenseStatus }>([
    { behaviour: 'a perpetual license is active', given: active(null), then: 'active' },
    { behaviour: 'a license before its expiry is active', given: active(IN_A_MS), then: 'active' },
    { behaviour: 'a license expiring exactly now is expired', given: active(NOW_ISO), then: 'expired' },
    { behaviour: 'a license a millisecond after its expiry is expired', given: active(A_MS_AGO), then: 'expired' },
    { behaviour: 'an expiry is compared as an instant, not as text', given: active(AN_HOUR_AGO_WITH_OFFSET), then: 'expired' },
    { behaviour: 'a revoked perpetual license is revoked', given: revoked(null), then: 'revoked' },
    { behaviour: 'a revoked license before its expiry is revoked', given: revoked(IN_10_DAYS), then: 'revoked' },
    { behaviour: 'revocation wins over expiry', given: revoked(A_MS_AGO), then: 'revoked' },
  ])('$behaviour', ({ given, then }) => {
    expect(licenseStatusAt(given, NOW)).toBe(then);
    expect(isLicenseUsableAt(given, NOW)).toBe(then === 'active');
  });
});

describe('isExpiringSoonAt', () => {
  it.each<{ behaviour: string; expiresAt: string | null; windowDays: number; then: boolean }>([
    { behaviour: 'a perpetual license never expires soon', expiresAt: null, windowDays: 30, then: false },
    { behaviour: 'an expiry now is past warning (already expired)', expiresAt: NOW_ISO, windowDays: 30, then: false },
    { behaviour: 'an expiry in the past is past warning', expiresAt: AN_HOUR_AGO_WITH_OFFSET, windowDays: 30, then: false },
    { behaviour: 'an expiry just after now is in the window', expiresAt: IN_A_MS, windowDays: 1, then: true },
    { behaviour: 'an expiry inside the window is in it', expiresAt: IN_10_DAYS, windowDays: 30, then: true },
    { behaviour: 'an expiry at the far end of the window is in it', expiresAt: IN_30_DAYS, windowDays: 30, then: true },
    { behaviour: 'an expiry past the far end is not', expiresAt: IN_30_DAYS_AND_A_MS, windowDays: 30, then: false },
  ])('$behaviour', ({ expiresAt, windowDays, then }) => {
    expect(isExpiringSoonAt(expiresAt, NOW, windowDays)).toBe(then);
  });

  it('agrees with the window bounds the scheduler queries by', () => {
    expect(warningWindowEndAt(NOW, 30).toISOString()).toBe(IN_30_DAYS);
    expect(warningStartsAt(IN_30_DAYS, 30)).toEqual(NOW);
    expect(warningStartsAt(new Date(IN_10_DAYS), 10)).toEqual(NOW);
  });
});

describe('the instants', () => {
  it.each<{ behaviour: string; a: string | null; b: string | null; then: boolean }>([
    { behaviour: 'the same instant is the same', a: NOW_ISO, b: NOW_ISO, then: true },
    {
      behaviour: 'the same instant with another offset is the same',
      a: A_MS_AGO,
      b: '2026-03-01T13:59:59.999+02:00',
      then: true,
    },
    { behaviour: 'different instants differ', a: NOW_ISO, b: IN_A_MS, then: false },
    { behaviour: 'an instant and none differ', a: NOW_ISO, b: null, then: false },
    { behaviour: 'none and none are the same', a: null, b: null, then: true },
  ])('$behaviour', ({ a, b, then }) => {
    expect(isSameInstant(a, b)).toBe(then);
  });

  it.each<{ behaviour: string; instant: string; then: boolean }>([
    { behaviour: 'now is reached', instant: NOW_ISO, then: true },
    { behaviour: 'a millisecond ago is reached', instant: A_MS_AGO, then: true },
    { behaviour: 'a millisecond ahead is not reached', instant: IN_A_MS, then: false },
  ])('$behaviour', ({ instant, then }) => {
    expect(isReachedAt(instant, NOW)).toBe(then);
    expect(hasExpiredAt(instant, NOW)).toBe(then);
  });

  it('never expires a perpetual license', () => {
    expect(hasExpiredAt(null, NOW)).toBe(false);
  });
});

describe('latestExpiry', () => {
  it.each<{ behaviour: string; given: (string | null)[]; then: string | null }>([
    { behaviour: 'one expiry is the latest', given: [IN_10_DAYS], then: IN_10_DAYS },
    { behaviour: 'the later of two, in any order', given: [IN_30_DAYS, IN_10_DAYS], then: IN_30_DAYS },
    { behaviour: 'compares instants, not text', given: [AN_HOUR_AGO_WITH_OFFSET, A_MS_AGO], then: A_MS_AGO },
    { behaviour: 'a perpetual one makes it perpetual', given: [IN_10_DAYS, null, IN_30_DAYS], then: null },
  ])('$behaviour', ({ given, then }) => {
    expect(latestExpiry(given)).toBe(then);
  });
});
