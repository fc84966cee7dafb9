import { describe, expect, it } from '@jest/globals';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { ed25519Thumbprint, eventSigningJwk, jwkThumbprint } from './jwk.js';

/** RFC 8037 appendix A.1-A.3: the Ed25519 key and its RFC 7638 thumbprint. */
const RFC8037 = {
  d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
  x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
  thumbprint: 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k',
};

describe('jwkThumbprint', () => {
  it('is the RFC 7638 thumbprint of the RFC 8037 test key', () => {
    expect(jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: RFC8037.x })).toBe(RFC8037.thumbprint);
  });

  it('is the same for the key as a node:crypto KeyObject, private or public half', () => {
    const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: RFC8037.x, d: RFC8037.d }, format: 'jwk' });
    expect(ed25519Thumbprint(privateKey)).toBe(RFC8037.thumbprint);
    expect(ed25519Thumbprint(createPublicKey(privateKey))).toBe(RFC8037.thumbprint);
  });

  it('differs for different keys', () => {
    expect(ed25519Thumbprint(generateKeyPairSync('ed25519').publicKey)).not.toBe(
      ed25519Thumbprint(generateKeyPairSync('ed25519').publicKey),
    );
  });

  it('refuses a key that is not Ed25519', () => {
    expect(() => ed25519Thumbprint(generateKeyPairSync('x25519').publicKey)).toThrow(/not Ed25519/);
  });
});

describe('eventSigningJwk', () => {
  it('publishes the public members only, and node:crypto reads it back as the same key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const jwk = eventSigningJwk('pairing/k~t', privateKey);
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    expect(createPublicKey({ key: jwk, format: 'jwk' }).equals(publicKey)).toBe(true);
  });
});
