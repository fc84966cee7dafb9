import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { publicKeysOfKeySet, publishedSigningKey } from './signing-key-set.js';

const k1 = generateKeyPairSync('ed25519');
const k2 = generateKeyPairSync('ed25519');

describe('publishedSigningKey', () => {
  it('publishes the public half only, as an Ed25519 JWK with its PEM', () => {
    const entry = publishedSigningKey('k1', k1.privateKey);
    expect(entry).toEqual({
      kid: 'k1',
      kty: 'OKP',
      crv: 'Ed25519',
      alg: 'EdDSA',
      use: 'sig',
      x: k1.publicKey.export({ format: 'jwk' }).x,
      publicKeyPem: k1.publicKey.export({ format: 'pem', type: 'spki' }),
    });
    expect(entry.x).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(entry)).not.toMatch(/PRIVATE|"d"/);
  });
});

describe('publicKeysOfKeySet', () => {
  const set = () =>
    JSON.parse(
      JSON.stringify({
        keys: [publishedSigningKey('k1', k1.publicKey), publishedSigningKey('k2', k2.privateKey)],
        activeKid: 'k2',
      }),
    );

  it('reads back every published key by kid', () => {
    const keys = publicKeysOfKeySet(set());
    expect([...keys.keys()]).toEqual(['k1', 'k2']);
    expect(keys.get('k1')!.equals(k1.publicKey)).toBe(true);
    expect(keys.get('k2')!.equals(k2.publicKey)).toBe(true);
  });

  it('reads a key from "x" alone or from "publicKeyPem" alone', () => {
    const { x, publicKeyPem, ...rest } = publishedSigningKey('k1', k1.publicKey);
    expect(
      publicKeysOfKeySet({ keys: [{ ...rest, x }] })
        .get('k1')!
        .equals(k1.publicKey),
    ).toBe(true);
    expect(
      publicKeysOfKeySet({ keys: [{ ...rest, publicKeyPem }] })
        .get('k1')!
        .equals(k1.publicKey),
    ).toBe(true);
  });

  it.each([
    ['not an object', 'keys', 'a key set is an object with a "keys" array'],
    ['no keys array', { activeKid: 'k1' }, 'a key set is an object with a "keys" array'],
    ['an entry without kid', { keys: [{ x: 'abc' }] }, 'keys[0] has no "kid"'],
    [
      'a kid listed twice',
      { keys: [publishedSigningKey('k1', k1.publicKey), publishedSigningKey('k1', k2.publicKey)] },
      'listed twice',
    ],
    ['an entry with no key', { keys: [{ kid: 'k1' }] }, 'neither "x" nor "publicKeyPem"'],
    ['a PEM that is no key', { keys: [{ kid: 'k1', publicKeyPem: 'nonsense' }] }, 'not a valid public key'],
    [
      '"x" and "publicKeyPem" of different keys',
      { keys: [{ ...publishedSigningKey('k1', k1.publicKey), x: publishedSigningKey('k2', k2.publicKey).x }] },
      '"x" and "publicKeyPem" differ',
    ],
    [
      'a key of another type',
      {
        keys: [
          {
            kid: 'ec',
            publicKeyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }),
          },
        ],
      },
      'not Ed25519',
    ],
  ])('refuses %s', (_, input, message) => {
    expect(() => publicKeysOfKeySet(input)).toThrow(message);
  });
});
