import { afterEach, describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, type EventKeySettings } from '../config/service-config.js';
import { loadEventKeyRing } from './event-key-ring.js';
import { ed25519Thumbprint } from './jwk.js';

/** A key id of `source`'s key `name`: `<source>/<name>~<43 base64url characters>`. */
const KID = (source: string, name: string) => new RegExp(`^${source}/${name}~[A-Za-z0-9_-]{43}$`);

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'event-keys-'));
  dirs.push(dir);
  return dir;
}

/** Writes `<dir>/<source>/<name>.pem`: a private key, or only its public half. */
function writeKey(dir: string, source: string, name: string, half: 'private' | 'public' = 'private'): void {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(join(dir, source), { recursive: true });
  const pem =
    half === 'private' ? privateKey.export({ format: 'pem', type: 'pkcs8' }) : publicKey.export({ format: 'pem', type: 'spki' });
  writeFileSync(join(dir, source, `${name}.pem`), pem);
}

const settings = (dir: string, more: Partial<EventKeySettings> = {}): EventKeySettings => ({
  dir,
  configured: true,
  signingKeyId: undefined,
  production: false,
  ...more,
});

function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).problems;
  }
  throw new Error('expected a ConfigurationError');
}

describe('loadEventKeyRing', () => {
  describe('when EVENT_KEYS_DIR is unset (development)', () => {
    it('makes a key for every source once, and the services verify each other with them', () => {
      const dir = tempDir();
      const pairing = loadEventKeyRing(settings(dir, { configured: false }), 'pairing');
      const licensing = loadEventKeyRing(settings(dir, { configured: false }), 'licensing');
      expect(['pairing', 'licensing', 'sync-agent'].map((s) => readdirSync(join(dir, s)))).toEqual([
        ['dev.pem'],
        ['dev.pem'],
        ['dev.pem'],
      ]);
      expect(pairing.signing.kid).toMatch(KID('pairing', 'dev'));
      expect(licensing.signing.kid).toMatch(KID('licensing', 'dev'));
      const ids = [...licensing.verification.values()].map((k) => k.kid);
      expect(new Set(ids).size).toBe(3);
      expect(licensing.verification.get(pairing.signing.kid)!.publicKey.equals(createPublicKey(pairing.signing.privateKey))).toBe(
        true,
      );
      expect(pairing.warnings).toEqual([expect.stringMatching(/^EVENT_KEYS_DIR is not set/)]);
    });

    it('names each key by its thumbprint, so two checkouts never share a key id', () => {
      const one = loadEventKeyRing(settings(tempDir(), { configured: false }), 'sync-agent');
      const other = loadEventKeyRing(settings(tempDir(), { configured: false }), 'sync-agent');
      expect(one.signing.kid).not.toBe(other.signing.kid);
      expect(one.verification.has(other.signing.kid)).toBe(false);
      expect(one.signing.kid.split('~')[1]).toBe(ed25519Thumbprint(one.signing.privateKey));
    });

    it('publishes the public keys of its own source only, as a JWK Set', () => {
      const ring = loadEventKeyRing(settings(tempDir(), { configured: false }), 'licensing');
      expect(ring.published).toEqual({
        keys: [
          {
            kty: 'OKP',
            crv: 'Ed25519',
            x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
            kid: ring.signing.kid,
            alg: 'EdDSA',
            use: 'sig',
          },
        ],
      });
      expect(JSON.stringify(ring.published)).not.toMatch(/"d"/);
    });

    it('still verifies events signed under the short <source>/<name> id', () => {
      const ring = loadEventKeyRing(settings(tempDir(), { configured: false }), 'pairing');
      expect(ring.verification.get('pairing/dev')).toBe(ring.verification.get(ring.signing.kid));
    });

    it('refuses to start in production', () => {
      expect(problemsOf(() => loadEventKeyRing(settings(tempDir(), { configured: false, production: true }), 'pairing'))).toEqual(
        [expect.stringMatching(/^EVENT_KEYS_DIR: must be set when NODE_ENV=production/)],
      );
    });
  });

  describe('when a source has two keys (rotation)', () => {
    it('signs with the last private key by name, or EVENT_SIGNING_KEY_ID, and verifies with both', () => {
      const dir = tempDir();
      writeKey(dir, 'licensing', '2026-01');
      writeKey(dir, 'licensing', '2026-02');
      writeKey(dir, 'pairing', '2026-01', 'public');
      expect(loadEventKeyRing(settings(dir), 'licensing').signing.kid).toMatch(KID('licensing', '2026-02'));
      const pinned = loadEventKeyRing(settings(dir, { signingKeyId: '2026-01' }), 'licensing');
      expect(pinned.signing.kid).toMatch(KID('licensing', '2026-01'));
      expect(loadEventKeyRing(settings(dir, { signingKeyId: pinned.signing.kid }), 'licensing').signing.kid).toBe(
        pinned.signing.kid,
      );
      expect([...new Set([...pinned.verification.values()].map((k) => k.kid.split('~')[0]))].sort()).toEqual([
        'licensing/2026-01',
        'licensing/2026-02',
        'pairing/2026-01',
      ]);
      expect(pinned.verification.get('pairing/2026-01')!.source).toBe('pairing');
      // A retired key (kept for its events) is published too; another source's key is not.
      expect(pinned.published.keys.map((k) => k.kid.split('~')[0])).toEqual(['licensing/2026-01', 'licensing/2026-02']);
      expect(pinned.warnings).toEqual([]);
    });
  });

  describe('when the directory is wrong', () => {
    it.each([
      [
        'holds only public keys for the service',
        (dir: string) => writeKey(dir, 'pairing', 'k', 'public'),
        /^EVENT_KEYS_DIR: .*pairing holds no private <name>.pem key/,
      ],
      ['holds no directory for the service', () => undefined, /^EVENT_KEYS_DIR: .*pairing holds no private/],
      [
        'holds a file that is not a key',
        (dir: string) => (mkdirSync(join(dir, 'pairing')), writeFileSync(join(dir, 'pairing', 'k.pem'), 'x')),
        /^EVENT_KEYS_DIR: .*k.pem is not a PEM key/,
      ],
    ])('refuses a directory that %s, naming the variable and the path', (_, prepare, problem) => {
      const dir = tempDir();
      prepare(dir);
      expect(problemsOf(() => loadEventKeyRing(settings(dir), 'pairing'))).toEqual([expect.stringMatching(problem)]);
    });

    it('refuses an EVENT_SIGNING_KEY_ID that is not a private key of the service', () => {
      const dir = tempDir();
      writeKey(dir, 'pairing', 'a');
      expect(problemsOf(() => loadEventKeyRing(settings(dir, { signingKeyId: 'b' }), 'pairing'))).toEqual([
        expect.stringMatching(/^EVENT_SIGNING_KEY_ID: .* holds no private key "b" \(private keys: pairing\/a\)/),
      ]);
    });

    it('refuses a directory that does not exist', () => {
      expect(problemsOf(() => loadEventKeyRing(settings('/nonexistent/keys'), 'pairing'))).toEqual([
        'EVENT_KEYS_DIR: /nonexistent/keys is not a directory',
      ]);
    });
  });
});
