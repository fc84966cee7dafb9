import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { ed25519Sign, ed25519Verify, rawPublicKey } from './ed25519.js';

/** libsodium must answer exactly as node:crypto (RFC 8032) does, so that either can check the other's signatures. */
const signer = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const flipped = (bytes: Buffer, at: number): Buffer => {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ 1;
  return copy;
};

describe('ed25519Sign', () => {
  it.each([0, 1, 300, 6_000])('gives node:crypto’s signature, byte for byte, for a %i-byte message', (size) => {
    const message = randomBytes(size);
    expect(ed25519Sign(message, signer.privateKey).equals(sign(null, message, signer.privateKey))).toBe(true);
  });

  it('signs a Uint8Array view without copying it wrong', () => {
    const backing = randomBytes(64);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, 32);
    expect(ed25519Sign(view, signer.privateKey).equals(sign(null, view, signer.privateKey))).toBe(true);
  });

  it('refuses a public key and a key of another type', () => {
    expect(() => ed25519Sign(Buffer.from('x'), signer.publicKey)).toThrow('needs a private key');
    expect(() => ed25519Sign(Buffer.from('x'), generateKeyPairSync('ed448').privateKey)).toThrow('an Ed25519 key is needed');
  });
});

describe('ed25519Verify', () => {
  const message = randomBytes(300);
  const signature = sign(null, message, signer.privateKey);
  it.each([
    ['the signer’s signature', message, signature, signer.publicKey],
    ['the same, with the raw public key', message, signature, rawPublicKey(signer.publicKey)],
    ['an altered message', flipped(message, 17), signature, signer.publicKey],
    ['an altered signature', message, flipped(signature, 40), signer.publicKey],
    ['another key', message, signature, other.publicKey],
    ['a short signature', message, signature.subarray(0, 63), signer.publicKey],
    ['an empty signature', message, Buffer.alloc(0), signer.publicKey],
  ])('answers as node:crypto for %s', (_, body, sig, key) => {
    const expected = sig.length === 64 && verify(null, body, Buffer.isBuffer(key) ? signer.publicKey : key, sig);
    expect(ed25519Verify(body, key, sig)).toBe(expected);
  });

  it('takes the raw key of a private key’s public half', () => {
    expect(rawPublicKey(signer.privateKey).equals(rawPublicKey(signer.publicKey))).toBe(true);
  });
});
