import { afterEach, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, type EventKeySettings } from '../config/service-config.js';
import { loadEventKeyRing } from './event-key-ring.js';

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
      expect(pairing.signing.kid).toBe('pairing/dev');
      expect(licensing.signing.kid).toBe('licensing/dev');
      expect([...licensing.verification.keys()].sort()).toEqual(['licensing/dev', 'pairing/dev', 'sync-agent/dev']);
      expect(
        licensing.verification.get('pairing/dev')!.publicKey.equals(pairing.verification.get('pairing/dev')!.publicKey),
      ).toBe(true);
      expect(pairing.warnings).toEqual([expect.stringMatching(/^EVENT_KEYS_DIR is not set/)]);
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
      expect(loadEventKeyRing(settings(dir), 'licensing').signing.kid).toBe('licensing/2026-02');
      const pinned = loadEventKeyRing(settings(dir, { signingKeyId: '2026-01' }), 'licensing');
      expect(pinned.signing.kid).toBe('licensing/2026-01');
      expect([...pinned.verification.keys()].sort()).toEqual(['licensing/2026-01', 'licensing/2026-02', 'pairing/2026-01']);
      expect(pinned.verification.get('pairing/2026-01')!.source).toBe('pairing');
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
