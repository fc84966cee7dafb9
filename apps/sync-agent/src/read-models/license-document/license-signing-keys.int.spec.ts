import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError, publicKeysOfKeySet, verifyLicenseDocument, type EffectiveLicenseSetV1 } from '#shared';
import { callUnprivileged } from '#shared/testing';
import { loadLicenseSigningKeyRing, loadLicenseSigningSettings } from './license-signing-keys.js';

/** This module compiled, called from a process that may not read what a test locks away. */
const COMPILED = fileURLToPath(
  new URL('../../../../../dist/apps/sync-agent/src/read-models/license-document/license-signing-keys.js', import.meta.url),
);

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'license-signing-keys-'));
});
afterEach(() => {
  chmodSync(cwd, 0o700); // a test may have locked it
  rmSync(cwd, { recursive: true, force: true });
});

function keyFile(dir: string, kid: string, kind: 'private' | 'public' = 'private', type: 'ed25519' | 'x25519' = 'ed25519'): void {
  mkdirSync(dir, { recursive: true });
  const pair = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('x25519');
  const pem =
    kind === 'private'
      ? pair.privateKey.export({ format: 'pem', type: 'pkcs8' })
      : pair.publicKey.export({ format: 'pem', type: 'spki' });
  writeFileSync(join(dir, `${kid}.pem`), pem);
}

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadLicenseSigningKeyRing(env, cwd);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).problems;
  }
  throw new Error(`expected a ConfigurationError for ${JSON.stringify(env)}`);
}

const SET: EffectiveLicenseSetV1 = {
  serial: '0F1873F7B5B8',
  role: 'standalone',
  peerSerial: null,
  pairId: null,
  licenses: [],
  statefulSync: { enabled: false, reason: 'NOT_PAIRED' },
};

describe('loadLicenseSigningSettings', () => {
  it('defaults to the development directory under the working directory and a 7-day time-to-live', () => {
    expect(loadLicenseSigningSettings({}, cwd)).toEqual({
      keysDir: join(cwd, '.local', 'license-signing-keys'),
      configured: false,
      activeKid: undefined,
      timeToLiveMs: 7 * 24 * 3_600_000,
    });
  });

  it('resolves a relative LICENSE_SIGNING_KEYS_DIR against the working directory and reads the other variables', () => {
    expect(
      loadLicenseSigningSettings(
        { LICENSE_SIGNING_KEYS_DIR: 'keys', LICENSE_SIGNING_KEY_ID: '2025-01', LICENSE_DOCUMENT_TTL_HOURS: '24' },
        cwd,
      ),
    ).toEqual({ keysDir: join(cwd, 'keys'), configured: true, activeKid: '2025-01', timeToLiveMs: 24 * 3_600_000 });
  });

  it.each([
    ['LICENSE_DOCUMENT_TTL_HOURS', '0', 'must be 1 or more'],
    ['LICENSE_DOCUMENT_TTL_HOURS', '1.5', 'must be a whole number of hours'],
    ['LICENSE_DOCUMENT_TTL_HOURS', 'week', 'must be a whole number of hours'],
    ['LICENSE_DOCUMENT_TTL_HOURS', '9000', 'must be at most 8760'],
    ['LICENSE_SIGNING_KEY_ID', '../etc/passwd', 'must be a key id'],
  ])('refuses %s=%s, naming the variable', (name, value, message) => {
    expect(() => loadLicenseSigningSettings({ [name]: value }, cwd)).toThrow(ConfigurationError);
    expect(problemsOf({ [name]: value })).toEqual([
      expect.stringMatching(new RegExp(`^${name}: .*${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)),
    ]);
  });

  it('refuses to start in production without LICENSE_SIGNING_KEYS_DIR', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      expect.stringMatching(/^LICENSE_SIGNING_KEYS_DIR: must be set when NODE_ENV=production/),
    ]);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('loadLicenseSigningKeyRing', () => {
  describe('when LICENSE_SIGNING_KEYS_DIR is unset, outside production', () => {
    it('makes a development key once, keeps it across restarts, and warns with its path', () => {
      const first = loadLicenseSigningKeyRing({}, cwd);
      const dir = join(cwd, '.local', 'license-signing-keys');
      expect(first.warnings).toEqual([expect.stringContaining(dir)]);
      expect(readdirSync(dir)).toEqual(['dev.pem']);
      expect(statSync(join(dir, 'dev.pem')).mode & 0o077).toBe(0);

      const second = loadLicenseSigningKeyRing({ NODE_ENV: 'development' }, cwd);
      expect(second.ring.activeKid).toBe('dev');
      expect(second.ring.publishedKeySet()).toEqual(first.ring.publishedKeySet());
      expect(readdirSync(dir)).toEqual(['dev.pem']);
    });
  });

  describe('given a directory of keys', () => {
    it('signs with the last kid in sorted order and publishes every key', () => {
      const dir = join(cwd, 'keys');
      for (const kid of ['2025-01', '2024-07', '2025-06']) keyFile(dir, kid);
      const { ring, warnings } = loadLicenseSigningKeyRing({ LICENSE_SIGNING_KEYS_DIR: dir }, cwd);
      expect(warnings).toEqual([]);
      expect(ring.activeKid).toBe('2025-06');
      expect(ring.publishedKeySet().keys.map((k) => k.kid)).toEqual(['2024-07', '2025-01', '2025-06']);
      expect(ring.issue(SET, new Date()).document.kid).toBe('2025-06');
    });

    it('signs with LICENSE_SIGNING_KEY_ID when it is set', () => {
      const dir = join(cwd, 'keys');
      for (const kid of ['a', 'b']) keyFile(dir, kid);
      expect(loadLicenseSigningKeyRing({ LICENSE_SIGNING_KEYS_DIR: dir, LICENSE_SIGNING_KEY_ID: 'a' }, cwd).ring.activeKid).toBe(
        'a',
      );
    });

    it('publishes a retired public-only key without signing with it, even when it sorts last', () => {
      const dir = join(cwd, 'keys');
      keyFile(dir, 'current');
      keyFile(dir, 'retired', 'public');
      const { ring } = loadLicenseSigningKeyRing({ LICENSE_SIGNING_KEYS_DIR: dir }, cwd);
      expect(ring.activeKid).toBe('current');
      expect(ring.publishedKeySet()).toEqual({
        keys: [expect.objectContaining({ kid: 'current' }), expect.objectContaining({ kid: 'retired' })],
        activeKid: 'current',
      });
    });

    it('issues documents that verify with the published keys, for the configured time-to-live', () => {
      const dir = join(cwd, 'keys');
      keyFile(dir, 'k1');
      const { ring } = loadLicenseSigningKeyRing({ LICENSE_SIGNING_KEYS_DIR: dir, LICENSE_DOCUMENT_TTL_HOURS: '2' }, cwd);
      const now = new Date('2030-01-01T00:00:00.000Z');
      const signed = ring.issue(SET, now);
      expect(signed.document.expiresAt).toBe('2030-01-01T02:00:00.000Z');
      const publicKeys = publicKeysOfKeySet(JSON.parse(JSON.stringify(ring.publishedKeySet())));
      expect(verifyLicenseDocument(JSON.stringify(signed), { publicKeys, expectedSerial: SET.serial, now }).valid).toBe(true);
    });

    it('ignores files that are not .pem', () => {
      const dir = join(cwd, 'keys');
      keyFile(dir, 'k1');
      writeFileSync(join(dir, 'README'), 'keys live here');
      expect(loadLicenseSigningKeyRing({ LICENSE_SIGNING_KEYS_DIR: dir }, cwd).ring.keys.map((k) => k.kid)).toEqual(['k1']);
    });
  });

  describe('given a configuration it cannot sign with', () => {
    it.each([
      [
        'a directory that does not exist',
        () => ({ LICENSE_SIGNING_KEYS_DIR: join(cwd, 'missing') }),
        /^LICENSE_SIGNING_KEYS_DIR: .*missing does not exist/,
      ],
      [
        'a file instead of a directory',
        () => (writeFileSync(join(cwd, 'file'), ''), { LICENSE_SIGNING_KEYS_DIR: join(cwd, 'file') }),
        /^LICENSE_SIGNING_KEYS_DIR: .*file is not a directory/,
      ],
      [
        'an empty directory',
        () => (mkdirSync(join(cwd, 'keys')), { LICENSE_SIGNING_KEYS_DIR: join(cwd, 'keys') }),
        /holds no <kid>\.pem key/,
      ],
      [
        'a file that is no key',
        () => (
          mkdirSync(join(cwd, 'keys')),
          writeFileSync(join(cwd, 'keys', 'k1.pem'), 'hello'),
          { LICENSE_SIGNING_KEYS_DIR: join(cwd, 'keys') }
        ),
        /^LICENSE_SIGNING_KEYS_DIR: .*k1\.pem is not a PEM key/,
      ],
      [
        'a key of another type',
        () => (keyFile(join(cwd, 'keys'), 'k1', 'private', 'x25519'), { LICENSE_SIGNING_KEYS_DIR: join(cwd, 'keys') }),
        /k1\.pem is a x25519 key; license documents are signed with Ed25519/,
      ],
      [
        'a file name that is no kid',
        () => (keyFile(join(cwd, 'keys'), 'my key'), { LICENSE_SIGNING_KEYS_DIR: join(cwd, 'keys') }),
        /my key\.pem: the file name must be <kid>\.pem/,
      ],
      [
        'public keys only',
        () => (keyFile(join(cwd, 'keys'), 'old', 'public'), { LICENSE_SIGNING_KEYS_DIR: join(cwd, 'keys') }),
        /holds only public keys/,
      ],
      [
        'an active kid that has no file',
        () => (keyFile(join(cwd, 'keys'), 'k1'), { LICENSE_SIGNING_KEYS_DIR: join(cwd, 'keys'), LICENSE_SIGNING_KEY_ID: 'k2' }),
        /^LICENSE_SIGNING_KEY_ID: there is no k2\.pem in .* \(keys: k1\)/,
      ],
      [
        'an active kid that is a public key',
        () => (
          keyFile(join(cwd, 'keys'), 'k1'),
          keyFile(join(cwd, 'keys'), 'old', 'public'),
          { LICENSE_SIGNING_KEYS_DIR: join(cwd, 'keys'), LICENSE_SIGNING_KEY_ID: 'old' }
        ),
        /^LICENSE_SIGNING_KEY_ID: old\.pem in .* is a public key/,
      ],
    ])('refuses %s, naming the variable and the path', (_, given, message) => {
      expect(problemsOf(given())).toEqual([expect.stringMatching(message)]);
    });
  });

  describe('given keys this process may not read', () => {
    const lockedDirectory = () => {
      chmodSync(cwd, 0o755); // another user may enter it, as a volume's mount point
      const dir = join(cwd, 'keys');
      keyFile(dir, 'k1');
      chmodSync(dir, 0o755);
      return dir;
    };

    it('says "permission denied" with the file, not that the directory holds no key', () => {
      const dir = lockedDirectory();
      chmodSync(join(dir, 'k1.pem'), 0o000);
      const outcome = callUnprivileged(COMPILED, 'loadLicenseSigningKeyRing', [{ LICENSE_SIGNING_KEYS_DIR: dir }, cwd]);
      expect(outcome).toEqual({
        threw: expect.objectContaining({
          problems: [expect.stringMatching(new RegExp(`^LICENSE_SIGNING_KEYS_DIR: ${join(dir, 'k1.pem')}: permission denied`))],
        }),
      });
    });

    it('says "permission denied" for a directory it may not look into, not that it does not exist', () => {
      const dir = lockedDirectory();
      chmodSync(cwd, 0o000);
      const outcome = callUnprivileged(COMPILED, 'loadLicenseSigningKeyRing', [{ LICENSE_SIGNING_KEYS_DIR: dir }, cwd]);
      expect(outcome).toEqual({
        threw: expect.objectContaining({
          problems: [expect.stringMatching(new RegExp(`^LICENSE_SIGNING_KEYS_DIR: ${dir}: permission denied`))],
        }),
      });
    });
  });
});
