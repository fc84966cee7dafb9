import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { EventSigningJwkV1 } from '../contracts/event-signing-keys.js';

/**
 * Ed25519 public keys as JSON Web Keys (RFC 8037: `kty` OKP, `crv` Ed25519, `x` the raw key in base64url) and
 * their RFC 7638 thumbprint: the SHA-256 of the key's required members (`crv`, `kty`, `x`) as JSON in that order
 * with no whitespace, base64url. The thumbprint names the key material itself, so two different keys never share
 * it, whatever their files are called.
 */

/** The RFC 7638 SHA-256 thumbprint (base64url, 43 characters) of an OKP public key. */
export function jwkThumbprint(jwk: { readonly kty: string; readonly crv: string; readonly x: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/** The `x` of an Ed25519 key (given its private or public half). */
export function ed25519X(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519')
    throw new TypeError(`a ${publicKey.asymmetricKeyType ?? 'symmetric'} key is not Ed25519`);
  return String(publicKey.export({ format: 'jwk' }).x);
}

/** The thumbprint of an Ed25519 key. */
export function ed25519Thumbprint(key: KeyObject): string {
  return jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: ed25519X(key) });
}

/** The published JWK of an event-signing key: public members only, with its key id. */
export function eventSigningJwk(kid: string, key: KeyObject): EventSigningJwkV1 {
  return { kty: 'OKP', crv: 'Ed25519', x: ed25519X(key), kid, alg: 'EdDSA', use: 'sig' };
}
