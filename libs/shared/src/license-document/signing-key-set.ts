import { createPublicKey, type KeyObject } from 'node:crypto';

/** One published signing key: a JSON Web Key (RFC 8037, OKP/Ed25519) that also carries its SPKI PEM. */
export interface LicenseSigningKeyV1 {
  readonly kid: string;
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly alg: 'EdDSA';
  readonly use: 'sig';
  /** The raw 32-byte public key, base64url without padding. */
  readonly x: string;
  readonly publicKeyPem: string;
}

/**
 * GET /.well-known/license-signing-keys: every key a current document may be signed with. `keys` is a JWK Set;
 * `activeKid` is the key new documents are signed with. Old keys stay listed after a rotation so that documents
 * they signed keep verifying until they expire.
 */
export interface LicenseSigningKeySetV1 {
  readonly keys: readonly LicenseSigningKeyV1[];
  readonly activeKid: string;
}

/** The published form of an Ed25519 key (given the private or the public half). */
export function publishedSigningKey(kid: string, key: KeyObject): LicenseSigningKeyV1 {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  assertEd25519(publicKey, kid);
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    kid,
    kty: 'OKP',
    crv: 'Ed25519',
    alg: 'EdDSA',
    use: 'sig',
    x: String(jwk.x),
    publicKeyPem: String(publicKey.export({ format: 'pem', type: 'spki' })),
  };
}

/**
 * The public keys of a published key set (as fetched from /.well-known/license-signing-keys), by kid, for
 * `verifyLicenseDocument`. Throws a TypeError naming the entry when the set is not well formed, when an entry
 * is not Ed25519, or when its `x` and `publicKeyPem` disagree.
 */
export function publicKeysOfKeySet(set: unknown): Map<string, KeyObject> {
  const keys = isRecord(set) ? set.keys : undefined;
  if (!Array.isArray(keys)) throw new TypeError('a key set is an object with a "keys" array');
  const result = new Map<string, KeyObject>();
  keys.forEach((entry: unknown, i) => {
    if (!isRecord(entry) || typeof entry.kid !== 'string' || entry.kid === '') throw new TypeError(`keys[${i}] has no "kid"`);
    const { kid } = entry;
    if (result.has(kid)) throw new TypeError(`keys[${i}]: kid "${kid}" is listed twice`);
    const fromPem =
      typeof entry.publicKeyPem === 'string' ? parse(kid, () => createPublicKey(entry.publicKeyPem as string)) : undefined;
    const fromJwk =
      typeof entry.x === 'string'
        ? parse(kid, () => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: entry.x as string }, format: 'jwk' }))
        : undefined;
    const key = fromPem ?? fromJwk;
    if (key === undefined) throw new TypeError(`key "${kid}" has neither "x" nor "publicKeyPem"`);
    assertEd25519(key, kid);
    if (fromPem && fromJwk && !fromPem.equals(fromJwk)) throw new TypeError(`key "${kid}": "x" and "publicKeyPem" differ`);
    result.set(kid, key);
  });
  return result;
}

function parse(kid: string, load: () => KeyObject): KeyObject {
  try {
    return load();
  } catch (error) {
    throw new TypeError(`key "${kid}" is not a valid public key: ${(error as Error).message}`, { cause: error });
  }
}

function assertEd25519(key: KeyObject, kid: string): void {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new TypeError(`key "${kid}" is ${key.asymmetricKeyType ?? 'not an asymmetric key'}, not Ed25519`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
