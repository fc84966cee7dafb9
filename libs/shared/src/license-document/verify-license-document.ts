import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { LICENSE_DOCUMENT_VERSION, licenseDocumentSigningInput, type LicenseDocumentV1 } from './license-document.js';

/** Why a license document was rejected. */
export const LICENSE_DOCUMENT_FAILURES = [
  /** Not a signed license document of a version this verifier knows (not JSON, a field missing or mistyped). */
  'MALFORMED',
  /** Signed with a key id that is not among the given public keys (never published, or retired). */
  'UNKNOWN_KEY',
  /** The signature does not match the document: it was altered, or signed by another key. */
  'BAD_SIGNATURE',
  /** Authentic, but for another unit. */
  'WRONG_SERIAL',
  /** Authentic, but issued after the instant it is checked at (a clock is off). */
  'NOT_YET_VALID',
  /** Authentic, but its time-to-live has run out. */
  'EXPIRED',
] as const;
export type LicenseDocumentFailure = (typeof LICENSE_DOCUMENT_FAILURES)[number];

/** A verified document (use this `document`, not the input it came from), or the reason it was rejected. */
export type LicenseDocumentVerification =
  | { readonly valid: true; readonly document: LicenseDocumentV1 }
  | { readonly valid: false; readonly reason: LicenseDocumentFailure; readonly detail: string };

/** A public key as a KeyObject or a PEM (SPKI) string. */
export type LicensePublicKey = KeyObject | string;

export interface VerifyLicenseDocumentOptions {
  /** The published public keys by kid (see `publicKeysOfKeySet`). */
  readonly publicKeys: ReadonlyMap<string, LicensePublicKey> | Readonly<Record<string, LicensePublicKey>>;
  /** The serial of the unit doing the check: a document is valid only for the unit it names as `serial`. */
  readonly expectedSerial: string;
  readonly now: Date;
  /** Slack for clocks that disagree, applied to both ends of the validity period; default 0. */
  readonly clockToleranceSeconds?: number;
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** 64 bytes in base64url without padding. */
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

/**
 * Verifies a signed license document offline: well formed, signed by a known key, for this unit, and valid at
 * `now`, checked in that order so that nothing in an unauthenticated document decides the reason beyond
 * "malformed", "unknown key" or "bad signature". `signed` may be the parsed JSON or its text. Pure: no I/O, no
 * clock, only node:crypto. Throws (TypeError) only for a bad `options.publicKeys` entry, a caller's mistake.
 */
export function verifyLicenseDocument(signed: unknown, options: VerifyLicenseDocumentOptions): LicenseDocumentVerification {
  const now = options.now.getTime();
  if (Number.isNaN(now)) throw new TypeError('options.now is not a valid date');
  const parsed = parseSignedDocument(signed);
  if (typeof parsed === 'string') return invalid('MALFORMED', parsed);
  const { document, signature } = parsed;

  const publicKey = publicKeyOf(options.publicKeys, document.kid);
  if (publicKey === undefined)
    return invalid('UNKNOWN_KEY', `the document is signed with key "${document.kid}", which is not among the published keys`);

  let authentic: boolean;
  try {
    authentic = verify(null, licenseDocumentSigningInput(document), publicKey, Buffer.from(signature, 'base64url'));
  } catch (error) {
    return invalid('MALFORMED', `the document cannot be canonicalized: ${(error as Error).message}`);
  }
  if (!authentic) return invalid('BAD_SIGNATURE', `the signature does not match the document for key "${document.kid}"`);

  if (document.serial !== options.expectedSerial)
    return invalid('WRONG_SERIAL', `the document is for ${document.serial}, not for ${options.expectedSerial}`);

  const tolerance = (options.clockToleranceSeconds ?? 0) * 1000;
  if (now < Date.parse(document.issuedAt) - tolerance)
    return invalid('NOT_YET_VALID', `the document is issued at ${document.issuedAt}, after ${options.now.toISOString()}`);
  if (now >= Date.parse(document.expiresAt) + tolerance)
    return invalid('EXPIRED', `the document expired at ${document.expiresAt} (checked at ${options.now.toISOString()})`);

  return { valid: true, document };
}

function invalid(reason: LicenseDocumentFailure, detail: string): LicenseDocumentVerification {
  return { valid: false, reason, detail };
}

/**
 * The envelope and the fields the verifier decides on, or what is wrong. The rest of the document is covered by
 * the signature and trusted once it verifies.
 */
function parseSignedDocument(signed: unknown): { document: LicenseDocumentV1; signature: string } | string {
  let value = signed;
  if (typeof signed === 'string') {
    try {
      value = JSON.parse(signed) as unknown;
    } catch {
      return 'the document is not valid JSON';
    }
  }
  if (!isRecord(value)) return 'a signed license document is an object with "document" and "signature"';
  const { document, signature } = value;
  if (!isRecord(document)) return '"document" is missing or not an object';
  if (
    typeof signature !== 'string' ||
    !SIGNATURE.test(signature) ||
    Buffer.from(signature, 'base64url').toString('base64url') !== signature
  )
    return '"signature" is not a base64url-encoded (unpadded) 64-byte Ed25519 signature';
  if (document.version !== LICENSE_DOCUMENT_VERSION)
    return `"document.version" is ${JSON.stringify(document.version)}; this verifier reads version ${LICENSE_DOCUMENT_VERSION}`;
  if (typeof document.kid !== 'string' || document.kid === '') return '"document.kid" is missing';
  if (typeof document.serial !== 'string' || document.serial === '') return '"document.serial" is missing';
  for (const field of ['issuedAt', 'expiresAt'] as const) {
    const instant = document[field];
    if (typeof instant !== 'string' || !INSTANT.test(instant) || Number.isNaN(Date.parse(instant)))
      return `"document.${field}" is not an ISO-8601 instant`;
  }
  if (Date.parse(document.expiresAt as string) <= Date.parse(document.issuedAt as string))
    return '"document.expiresAt" is not after "document.issuedAt"';
  if (!Array.isArray(document.licenses)) return '"document.licenses" is not an array';
  return { document: document as unknown as LicenseDocumentV1, signature };
}

function publicKeyOf(keys: VerifyLicenseDocumentOptions['publicKeys'], kid: string): KeyObject | undefined {
  // Object.hasOwn: a kid such as "constructor" must not find Object.prototype's members.
  const given: LicensePublicKey | undefined = isMap(keys) ? keys.get(kid) : Object.hasOwn(keys, kid) ? keys[kid] : undefined;
  if (given === undefined) return undefined;
  const key = typeof given === 'string' ? createPublicKey(given) : given.type === 'private' ? createPublicKey(given) : given;
  // Only Ed25519: with verify(null, ...) another key type would select another algorithm.
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`public key "${kid}" is not an Ed25519 key`);
  return key;
}

function isMap(keys: VerifyLicenseDocumentOptions['publicKeys']): keys is ReadonlyMap<string, LicensePublicKey> {
  return keys instanceof Map;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
