import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  API_KEY_PATTERN,
  bearerToken,
  canAccess,
  generateApiKey,
  hashApiKey,
  redactSecrets,
  sameHash,
  type Principal,
} from './api-keys.js';
import { ApiKeyVerifier, BOOTSTRAP_OPERATOR } from './api-key-verifier.js';
import { resolveOperatorKey } from './operator-key.js';
import { ConfigurationError } from '../config/service-config.js';

describe('generateApiKey', () => {
  it('makes 256-bit keys with a recognisable prefix, never twice the same', () => {
    const keys = Array.from({ length: 100 }, generateApiKey);
    for (const key of keys) expect(key).toMatch(API_KEY_PATTERN);
    expect(Buffer.from(keys[0]!.slice(5), 'base64url')).toHaveLength(32);
    expect(new Set(keys).size).toBe(100);
  });
});

describe('hashApiKey and sameHash', () => {
  it('stores a SHA-256 in hex, equal only for the same key', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(sameHash(hashApiKey(key), hashApiKey(key))).toBe(true);
    expect(sameHash(hashApiKey(key), hashApiKey(generateApiKey()))).toBe(false);
    expect(sameHash(hashApiKey(key), '')).toBe(false);
    expect(sameHash('', '')).toBe(false);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer hlsk_abc', 'hlsk_abc'],
    ['bearer hlsk_abc', 'hlsk_abc'],
    ['  Bearer hlsk_abc  ', 'hlsk_abc'],
    [undefined, null],
    ['', null],
    ['Basic dXNlcjpwYXNz', null],
    ['Bearer', null],
    ['Bearer two tokens', null],
    [`Bearer ${'x'.repeat(513)}`, null],
    [['Bearer a', 'Bearer b'], null],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('canAccess', () => {
  const operator: Principal = { keyId: 'o', role: 'operator', accountId: null };
  const admin: Principal = { keyId: 'a', role: 'account-admin', accountId: 'acme' };
  const reader: Principal = { keyId: 'r', role: 'reader', accountId: 'acme' };
  const metrics: Principal = { keyId: 'm', role: 'metrics', accountId: null };
  it.each([
    [operator, 'acme', true],
    [operator, 'other', true],
    [admin, 'acme', true],
    [admin, 'other', false],
    [reader, 'acme', true],
    [reader, 'other', false],
    [metrics, 'acme', false],
  ])('%j on account %s: %s', (principal, account, expected) => {
    expect(canAccess(principal, account)).toBe(expected);
  });
});

describe('redactSecrets', () => {
  it('removes keys, bearer tokens and URL passwords', () => {
    const key = generateApiKey();
    const text = redactSecrets(`key ${key}; Authorization: Bearer abc.def; postgres://svc:s3cret@db:5432/x`);
    expect(text).not.toContain(key.slice(5));
    expect(text).not.toContain('abc.def');
    expect(text).not.toContain('s3cret');
    expect(text).toContain('postgres://svc:[REDACTED]@db');
  });
});

describe('ApiKeyVerifier', () => {
  const bootstrap = generateApiKey();
  const holder: Principal = { keyId: 'k1', role: 'reader', accountId: 'acme' };

  it('knows the bootstrap operator key without asking the directory', async () => {
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), () => Promise.reject(new Error('not asked')));
    await expect(verifier.verify(bootstrap)).resolves.toEqual(BOOTSTRAP_OPERATOR);
  });

  it('asks the directory by hash, never with the key', async () => {
    const asked: string[] = [];
    const key = generateApiKey();
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), (hash) => (asked.push(hash), Promise.resolve(holder)));
    await expect(verifier.verify(key)).resolves.toEqual(holder);
    expect(asked).toEqual([hashApiKey(key)]);
  });

  it('with a cache, keeps an answer (a holder or "unknown") for cacheMs, then asks again', async () => {
    let clock = 0;
    let answer: Principal | null = holder;
    let asks = 0;
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), () => (asks++, Promise.resolve(answer)), {
      cacheMs: 5_000,
      now: () => clock,
    });
    const key = generateApiKey();
    await verifier.verify(key);
    answer = null; // revoked
    await expect(verifier.verify(key)).resolves.toEqual(holder);
    clock = 5_001;
    await expect(verifier.verify(key)).resolves.toBeNull();
    expect(asks).toBe(2);
  });

  it('does not cache a directory failure', async () => {
    let fail = true;
    const verifier = new ApiKeyVerifier(
      hashApiKey(bootstrap),
      () => (fail ? Promise.reject(new Error('pairing away')) : Promise.resolve(holder)),
      { cacheMs: 5_000 },
    );
    const key = generateApiKey();
    await expect(verifier.verify(key)).rejects.toThrow('pairing away');
    fail = false;
    await expect(verifier.verify(key)).resolves.toEqual(holder);
  });
});

describe('ApiKeyVerifier with a cache of unknown keys only (pairing)', () => {
  const bootstrap = generateApiKey();
  const holder: Principal = { keyId: 'k1', role: 'reader', accountId: 'acme' };

  /** A directory holding `known` (mutable), counting the hashes it is asked for. */
  function directory(known: Map<string, Principal>) {
    const asked: string[] = [];
    return { asked, lookUp: (hash: string) => (asked.push(hash), Promise.resolve(known.get(hash) ?? null)) };
  }

  it.each([
    ['an unknown key, asked five times within the window', null, 5, 1],
    ['a holder, asked five times (a revocation must take effect at once)', holder, 5, 5],
  ])('asks the directory about %s: %s', async (_, principal, presented, lookups) => {
    const key = generateApiKey();
    const known = new Map(principal ? [[hashApiKey(key), principal]] : []);
    const dir = directory(known);
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), dir.lookUp, { unknownCacheMs: 5_000, now: () => 0 });
    for (let i = 0; i < presented; i++) await expect(verifier.verify(key)).resolves.toEqual(principal);
    expect(dir.asked).toHaveLength(lookups);
  });

  it('sees a revocation at once', async () => {
    const key = generateApiKey();
    const known = new Map([[hashApiKey(key), holder]]);
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), directory(known).lookUp, { unknownCacheMs: 5_000 });
    await expect(verifier.verify(key)).resolves.toEqual(holder);
    known.delete(hashApiKey(key));
    await expect(verifier.verify(key)).resolves.toBeNull();
  });

  it('asks again once the window has passed', async () => {
    let clock = 0;
    const dir = directory(new Map());
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), dir.lookUp, { unknownCacheMs: 5_000, now: () => clock });
    const key = generateApiKey();
    await verifier.verify(key);
    clock = 4_999;
    await verifier.verify(key);
    clock = 5_000;
    await verifier.verify(key);
    expect(dir.asked).toHaveLength(2);
  });

  it('forgets that a key was unknown when a key with its hash is created', async () => {
    const key = generateApiKey();
    const known = new Map<string, Principal>();
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), directory(known).lookUp, { unknownCacheMs: 60_000 });
    await expect(verifier.verify(key)).resolves.toBeNull();
    known.set(hashApiKey(key), holder);
    verifier.keyCreated(hashApiKey(key));
    await expect(verifier.verify(key)).resolves.toEqual(holder);
  });

  it('does not keep an "unknown" answer from a lookup that a creation overtook', async () => {
    const key = generateApiKey();
    let answer!: (principal: Principal | null) => void;
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), () => new Promise((resolve) => (answer = resolve)), {
      unknownCacheMs: 60_000,
    });
    const first = verifier.verify(key);
    verifier.keyCreated(hashApiKey(key)); // committed while the lookup was on its way
    answer(null);
    await expect(first).resolves.toBeNull();
    const second = verifier.verify(key);
    answer(holder);
    await expect(second).resolves.toEqual(holder);
  });

  it('refuses a key that is not of the issued form without asking', async () => {
    const dir = directory(new Map());
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), dir.lookUp, { unknownCacheMs: 5_000 });
    for (const key of ['hlsk_short', 'x'.repeat(48), `hlsk_${'A'.repeat(42)}!`, `${bootstrap}x`])
      await expect(verifier.verify(key)).resolves.toBeNull();
    expect(dir.asked).toEqual([]);
  });

  it('keeps at most maxEntries unknown keys, the oldest going first', async () => {
    const dir = directory(new Map());
    const verifier = new ApiKeyVerifier(hashApiKey(bootstrap), dir.lookUp, { unknownCacheMs: 60_000, maxEntries: 2 });
    const [a, b, c] = [generateApiKey(), generateApiKey(), generateApiKey()];
    for (const key of [a, b, c, c, b, a]) await verifier.verify(key);
    // a was pushed out by c; asking for a again then pushed out b.
    expect(dir.asked).toEqual([a, b, c, a].map(hashApiKey));
  });
});

describe('resolveOperatorKey', () => {
  const fresh = () => mkdtempSync(join(tmpdir(), 'operator-key-'));

  it('takes OPERATOR_API_KEY when set', () => {
    const key = generateApiKey();
    expect(resolveOperatorKey({ OPERATOR_API_KEY: key }, fresh())).toEqual({ key, source: 'environment' });
  });

  it('refuses a short OPERATOR_API_KEY without repeating it', () => {
    const error = captured(() => resolveOperatorKey({ OPERATOR_API_KEY: 'short-secret' }, fresh()));
    expect(error.problems).toEqual([expect.stringMatching(/^OPERATOR_API_KEY: must be 32-512/)]);
    expect(error.message).not.toContain('short-secret');
  });

  it('refuses to start in production without it', () => {
    const error = captured(() => resolveOperatorKey({ NODE_ENV: 'production' }, fresh()));
    expect(error.problems).toEqual([expect.stringMatching(/^OPERATOR_API_KEY: is required when NODE_ENV=production/)]);
  });

  it('in development generates a key once, keeps it in .local/ (owner-only), and reads it back after', () => {
    const cwd = fresh();
    const first = resolveOperatorKey({}, cwd);
    expect(first.source).toBe('generated');
    expect(first.key).toMatch(API_KEY_PATTERN);
    const file = join(cwd, '.local', 'operator-api-key');
    expect(readFileSync(file, 'utf8').trim()).toBe(first.key);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(resolveOperatorKey({}, cwd)).toEqual({ key: first.key, source: 'local-file' });
  });
});

function captured(run: () => unknown): ConfigurationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}
