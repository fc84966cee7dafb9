import { sign, type KeyObject } from 'node:crypto';
import type { EffectiveLicenseSetV1, EffectiveLicenseV1, StatefulSyncStatusV1 } from '../contracts/index.js';
import { canonicalJson } from './canonical-json.js';

/**
 * A signed license document: a product's effective license set as of `issuedAt`, valid until `expiresAt`,
 * signed with Ed25519 so that an appliance can check it offline (during a failover the Secondary may not reach
 * the sync agent). Only node:crypto at run time, so an appliance can ship this folder alone.
 */

export const LICENSE_DOCUMENT_VERSION = 1;

/** What the signature covers. `serial` is the unit the document is for; `peerSerial` the other unit of its pair. */
export interface LicenseDocumentV1 {
  readonly version: typeof LICENSE_DOCUMENT_VERSION;
  /** The signing key's id; a verifier looks the public key up by it (several are published during a rotation). */
  readonly kid: string;
  readonly issuedAt: string;
  /** `issuedAt` plus the time-to-live; the document is not valid from this instant on. */
  readonly expiresAt: string;
  readonly serial: string;
  readonly role: EffectiveLicenseSetV1['role'];
  readonly peerSerial: string | null;
  readonly pairId: string | null;
  /** The effective set's entries; each keeps its own `expiresAt`, which the appliance must still honour. */
  readonly licenses: readonly EffectiveLicenseV1[];
  readonly statefulSync: StatefulSyncStatusV1;
}

/** The document and base64url (unpadded) Ed25519 signature over `canonicalJson(document)` in UTF-8. */
export interface SignedLicenseDocumentV1 {
  readonly document: LicenseDocumentV1;
  readonly signature: string;
}

/** The bytes a license document's signature covers. */
export function licenseDocumentSigningInput(document: unknown): Buffer {
  return Buffer.from(canonicalJson(document), 'utf8');
}

/** Signs a document with an Ed25519 private key. */
export function signLicenseDocument(document: LicenseDocumentV1, privateKey: KeyObject): SignedLicenseDocumentV1 {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519')
    throw new TypeError('a license document is signed with an Ed25519 private key');
  return { document, signature: sign(null, licenseDocumentSigningInput(document), privateKey).toString('base64url') };
}

export interface IssueLicenseDocumentOptions {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly issuedAt: Date;
  readonly timeToLiveMs: number;
}

/** The signed document of an effective set, issued at `issuedAt` and valid for `timeToLiveMs`. */
export function issueLicenseDocument(set: EffectiveLicenseSetV1, options: IssueLicenseDocumentOptions): SignedLicenseDocumentV1 {
  if (!Number.isSafeInteger(options.timeToLiveMs) || options.timeToLiveMs <= 0)
    throw new RangeError(`the time-to-live must be a positive number of milliseconds, got ${options.timeToLiveMs}`);
  // The entries as plain JSON data, exactly as a verifier will parse them (an optional field left undefined
  // disappears here as it would on the wire, instead of making the canonicalizer refuse it).
  const licenses = JSON.parse(JSON.stringify(set.licenses)) as EffectiveLicenseV1[];
  const document: LicenseDocumentV1 = {
    version: LICENSE_DOCUMENT_VERSION,
    kid: options.kid,
    issuedAt: options.issuedAt.toISOString(),
    expiresAt: new Date(options.issuedAt.getTime() + options.timeToLiveMs).toISOString(),
    serial: set.serial,
    role: set.role,
    peerSerial: set.peerSerial,
    pairId: set.pairId,
    licenses,
    statefulSync: { enabled: set.statefulSync.enabled, reason: set.statefulSync.reason },
  };
  return signLicenseDocument(document, options.privateKey);
}
