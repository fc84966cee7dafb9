import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { EffectiveLicenseSetV1 } from '../contracts/index.js';
import {
  issueLicenseDocument,
  signLicenseDocument,
  type LicenseDocumentV1,
  type SignedLicenseDocumentV1,
} from './license-document.js';
import { publicKeysOfKeySet, publishedSigningKey } from './signing-key-set.js';
import { verifyLicenseDocument, type LicenseDocumentFailure } from './verify-license-document.js';

const PRIMARY = '324F14B588EA';
const SECONDARY = '0F1873F7B5B8';
const ISSUED_AT = new Date('2030-01-01T00:00:00.000Z');
const HOUR = 3_600_000;
const TTL = 168 * HOUR;

const k1 = generateKeyPairSync('ed25519');
const k2 = generateKeyPairSync('ed25519');
const unpublished = generateKeyPairSync('ed25519');
const published = { k1: k1.publicKey, k2: k2.publicKey };

function effectiveSet(serial: string, role: 'primary' | 'secondary'): EffectiveLicenseSetV1 {
  return {
    serial,
    role,
    peerSerial: serial === SECONDARY ? PRIMARY : SECONDARY,
    pairId: '626483ba-6d1c-4b6e-9f43-3f4f0c3c8a11',
    licenses: [
      {
        sku: 'GATEWAY_AV',
        category: 'security-service',
        trial: false,
        expiresAt: '2031-11-25T09:00:00.000Z',
        expiringSoon: false,
        sources: [
          {
            from: role === 'secondary' ? 'primary' : 'own',
            serial: PRIMARY,
            licenseId: 'c0d1a6a4-3f0e-4a55-a4b6-5c7f1f8d0b21',
            expiresAt: '2031-11-25T09:00:00.000Z',
            eventIds: ['7b0c1f2e-9a34-4d1b-8e8f-0c6c1d2e3f40'],
          },
        ],
      },
      {
        sku: 'SUPPORT_24X7',
        category: 'support',
        trial: false,
        expiresAt: null,
        expiringSoon: false,
        sources: [
          {
            from: role === 'secondary' ? 'primary' : 'own',
            serial: PRIMARY,
            licenseId: 'a3c2d9e1-0b4f-4c8a-9d7e-1f2a3b4c5d6e',
            expiresAt: null,
            eventIds: ['2d4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f'],
          },
        ],
      },
    ],
    statefulSync: { enabled: true, reason: null },
  };
}

function issue(serial = SECONDARY, key: { kid: string; privateKey: KeyObject } = { kid: 'k1', privateKey: k1.privateKey }) {
  return issueLicenseDocument(effectiveSet(serial, serial === SECONDARY ? 'secondary' : 'primary'), {
    ...key,
    issuedAt: ISSUED_AT,
    timeToLiveMs: TTL,
  });
}

/** A document as an attacker sees it: any field may be set to anything. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Editable = Record<string, any>;

/** A copy of a signed document with `change` applied to (a deep copy of) its document, signature kept. */
function tampered(signed: SignedLicenseDocumentV1, change: (document: Editable) => void): unknown {
  const copy = structuredClone(signed) as { document: Editable; signature: string };
  change(copy.document);
  return copy;
}

function at(msAfterIssue: number): Date {
  return new Date(ISSUED_AT.getTime() + msAfterIssue);
}

const check = (signed: unknown, now = at(HOUR), expectedSerial = SECONDARY) =>
  verifyLicenseDocument(signed, { publicKeys: published, expectedSerial, now });

describe('issueLicenseDocument', () => {
  it('names both serials of the pair, the issue time and the time-to-live, and carries the effective set', () => {
    const { document } = issue();
    const set = effectiveSet(SECONDARY, 'secondary');
    expect(document).toEqual({
      version: 1,
      kid: 'k1',
      issuedAt: '2030-01-01T00:00:00.000Z',
      expiresAt: '2030-01-08T00:00:00.000Z',
      serial: SECONDARY,
      role: 'secondary',
      peerSerial: PRIMARY,
      pairId: set.pairId,
      licenses: set.licenses,
      statefulSync: set.statefulSync,
    });
  });

  it('refuses a time-to-live that is not a positive whole number of milliseconds', () => {
    expect(() =>
      issueLicenseDocument(effectiveSet(SECONDARY, 'secondary'), {
        kid: 'k1',
        privateKey: k1.privateKey,
        issuedAt: ISSUED_AT,
        timeToLiveMs: 0,
      }),
    ).toThrow('time-to-live');
  });

  it('refuses to sign with a public key or a key of another type', () => {
    const document = issue().document;
    expect(() => signLicenseDocument(document, k1.publicKey)).toThrow('Ed25519 private key');
    expect(() => signLicenseDocument(document, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)).toThrow(
      'Ed25519 private key',
    );
  });
});

describe('verifyLicenseDocument', () => {
  describe('given an untouched document for this unit, signed by a published key, within its validity', () => {
    it('accepts it and returns the verified document', () => {
      const signed = issue();
      expect(check(signed)).toEqual({ valid: true, document: signed.document });
    });

    it('accepts it as JSON text, pretty-printed or with its keys in another order', () => {
      const signed = issue();
      expect(check(JSON.stringify(signed, null, 2)).valid).toBe(true);
      const reordered = { signature: signed.signature, document: Object.fromEntries(Object.entries(signed.document).reverse()) };
      expect(check(JSON.stringify(reordered)).valid).toBe(true);
    });

    it('accepts the keys as PEM strings, as a Map, or as parsed from the published key set', () => {
      const signed = issue();
      const pems = { k1: published.k1.export({ format: 'pem', type: 'spki' }).toString() };
      const keySet = JSON.parse(JSON.stringify({ keys: [publishedSigningKey('k1', k1.privateKey)], activeKid: 'k1' }));
      for (const publicKeys of [pems, new Map([['k1', k1.publicKey]]), publicKeysOfKeySet(keySet)])
        expect(verifyLicenseDocument(signed, { publicKeys, expectedSerial: SECONDARY, now: at(HOUR) }).valid).toBe(true);
    });

    it('accepts a document signed by an older key that is still published (rotation)', () => {
      const byOldKey = issue(SECONDARY, { kid: 'k1', privateKey: k1.privateKey });
      const byNewKey = issue(SECONDARY, { kid: 'k2', privateKey: k2.privateKey });
      expect([check(byOldKey).valid, check(byNewKey).valid]).toEqual([true, true]);
    });
  });

  const rejections: [string, () => unknown, { now?: Date; expectedSerial?: string }, LicenseDocumentFailure][] = [
    ['a license removed from the list', () => tampered(issue(), (d) => (d.licenses as unknown[]).pop()), {}, 'BAD_SIGNATURE'],
    [
      'a license added to the list',
      () => tampered(issue(), (d) => (d.licenses as object[]).push({ ...d.licenses[0], sku: 'CAPTURE_ATP' })),
      {},
      'BAD_SIGNATURE',
    ],
    [
      "a license's expiry pushed back",
      () => tampered(issue(), (d) => (d.licenses[0].expiresAt = '2099-01-01T00:00:00.000Z')),
      {},
      'BAD_SIGNATURE',
    ],
    ['the trial flag flipped', () => tampered(issue(), (d) => (d.licenses[0].trial = true)), {}, 'BAD_SIGNATURE'],
    [
      'stateful sync switched on',
      () => tampered(issue(), (d) => (d.statefulSync = { enabled: false, reason: 'NOT_LICENSED' })),
      {},
      'BAD_SIGNATURE',
    ],
    [
      "the serial rewritten to this unit's (the Primary's document)",
      () => tampered(issue(PRIMARY), (d) => (d.serial = SECONDARY)),
      {},
      'BAD_SIGNATURE',
    ],
    ['the peer serial rewritten', () => tampered(issue(), (d) => (d.peerSerial = 'AAAAAAAAAAAA')), {}, 'BAD_SIGNATURE'],
    [
      'the time-to-live extended',
      () => tampered(issue(), (d) => (d.expiresAt = '2031-01-01T00:00:00.000Z')),
      {},
      'BAD_SIGNATURE',
    ],
    ['a field added', () => tampered(issue(), (d) => (d.note = 'hello')), {}, 'BAD_SIGNATURE'],
    ['the kid switched to another published key', () => tampered(issue(), (d) => (d.kid = 'k2')), {}, 'BAD_SIGNATURE'],
    [
      'a signature by another key under a published kid',
      () => issue(SECONDARY, { kid: 'k1', privateKey: unpublished.privateKey }),
      {},
      'BAD_SIGNATURE',
    ],
    [
      "another document's signature",
      () => ({ document: issue().document, signature: issue(PRIMARY).signature }),
      {},
      'BAD_SIGNATURE',
    ],
    ['a kid that is not published', () => issue(SECONDARY, { kid: 'k3', privateKey: unpublished.privateKey }), {}, 'UNKNOWN_KEY'],
    ['a kid naming a member of Object.prototype', () => tampered(issue(), (d) => (d.kid = 'constructor')), {}, 'UNKNOWN_KEY'],
    ['the document of another unit (the Primary)', () => issue(PRIMARY), {}, 'WRONG_SERIAL'],
    ['a check at its expiry instant', () => issue(), { now: at(TTL) }, 'EXPIRED'],
    ['a check a year later', () => issue(), { now: at(365 * 24 * HOUR) }, 'EXPIRED'],
    ['a check before its issue time', () => issue(), { now: at(-1) }, 'NOT_YET_VALID'],
    ['not JSON', () => '{"document": ', {}, 'MALFORMED'],
    ['null', () => null, {}, 'MALFORMED'],
    ['an array', () => [issue()], {}, 'MALFORMED'],
    ['the document alone', () => issue().document, {}, 'MALFORMED'],
    ['no signature', () => ({ document: issue().document }), {}, 'MALFORMED'],
    ['a padded signature', () => ({ ...issue(), signature: `${issue().signature}==` }), {}, 'MALFORMED'],
    [
      'a signature with a character outside base64url',
      () => ({ ...issue(), signature: `+${issue().signature.slice(1)}` }),
      {},
      'MALFORMED',
    ],
    ['a truncated signature', () => ({ ...issue(), signature: issue().signature.slice(0, 43) }), {}, 'MALFORMED'],
    [
      'a non-canonical base64url signature (same bytes, other text)',
      () => {
        const signed = issue();
        const last = signed.signature.at(-1)!;
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        return { ...signed, signature: signed.signature.slice(0, -1) + alphabet[alphabet.indexOf(last) + 1] };
      },
      {},
      'MALFORMED',
    ],
    ['an unknown version', () => tampered(issue(), (d) => (d.version = 2)), {}, 'MALFORMED'],
    ['no kid', () => tampered(issue(), (d) => delete d.kid), {}, 'MALFORMED'],
    ['no serial', () => tampered(issue(), (d) => (d.serial = 42)), {}, 'MALFORMED'],
    ['an issue time that is not an instant', () => tampered(issue(), (d) => (d.issuedAt = 'yesterday')), {}, 'MALFORMED'],
    [
      'an expiry before the issue time',
      () => tampered(issue(), (d) => (d.expiresAt = '2029-01-01T00:00:00.000Z')),
      {},
      'MALFORMED',
    ],
    ['licenses that are not a list', () => tampered(issue(), (d) => (d.licenses = {})), {}, 'MALFORMED'],
    ['a value JSON cannot carry', () => tampered(issue(), (d) => (d.extra = undefined)), {}, 'MALFORMED'],
  ];

  describe.each(rejections)('given %s', (_, given, when, reason) => {
    it(`rejects it as ${reason}, with a detail`, () => {
      const result = check(given(), when.now, when.expectedSerial);
      expect(result).toEqual({ valid: false, reason, detail: expect.any(String) });
    });
  });

  describe('at the edges of the validity period', () => {
    it('accepts it from its issue time up to the millisecond before its expiry', () => {
      expect([check(issue(), at(0)).valid, check(issue(), at(TTL - 1)).valid]).toEqual([true, true]);
    });

    it('allows the given clock tolerance at both ends', () => {
      const options = { publicKeys: published, expectedSerial: SECONDARY, clockToleranceSeconds: 60 };
      expect(verifyLicenseDocument(issue(), { ...options, now: at(-59_000) }).valid).toBe(true);
      expect(verifyLicenseDocument(issue(), { ...options, now: at(TTL + 59_000) }).valid).toBe(true);
      expect(verifyLicenseDocument(issue(), { ...options, now: at(TTL + 60_000) })).toMatchObject({ reason: 'EXPIRED' });
    });
  });

  describe('given several faults at once', () => {
    it('reports the signature before anything the unauthenticated document claims', () => {
      const forged = tampered(issue(PRIMARY), (d) => (d.expiresAt = '2030-01-01T00:00:01.000Z'));
      expect(check(forged, at(TTL))).toMatchObject({ reason: 'BAD_SIGNATURE' });
    });

    it('reports a wrong serial before the time', () => {
      expect(check(issue(PRIMARY), at(TTL))).toMatchObject({ reason: 'WRONG_SERIAL' });
    });
  });

  describe('given a public key that is not Ed25519', () => {
    it('throws: that is a mistake of the caller, not a property of the document', () => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
      expect(() => verifyLicenseDocument(issue(), { publicKeys: { k1: rsa }, expectedSerial: SECONDARY, now: at(HOUR) })).toThrow(
        'not an Ed25519 key',
      );
    });
  });
});

// The document type is what a verified result hands back; keep the compiler checking that it is the issued shape.
const _shape: (signed: SignedLicenseDocumentV1) => LicenseDocumentV1 = (signed) => signed.document;
