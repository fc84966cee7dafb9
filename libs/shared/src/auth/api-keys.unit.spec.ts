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
import { TokenBuckets } from '../http/rate-limit.js';
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

describe('TokenBuckets', () => {
  it('allows a burst of perMinute, then refuses with the seconds until a token is back, per key', () => {
    let clock = 0;
    const buckets = new TokenBuckets(60, () => clock);
    for (let i = 0; i < 60; i++) expect(buckets.take('a')).toEqual({ allowed: true });
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(buckets.take('b')).toEqual({ allowed: true });
    clock = 1_000;
    expect(buckets.take('a')).toEqual({ allowed: true });
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('refills no further than the burst', () => {
    let clock = 0;
    const buckets = new TokenBuckets(2, () => clock);
    clock = 3_600_000;
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([
      { allowed: true },
      { allowed: true },
      { allowed: false, retryAfterSeconds: 30 },
    ]);
  });
});
