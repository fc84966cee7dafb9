import { describe, expect, it } from '@jest/globals';
import { HttpException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from './auth.guard.js';
import { ApiKeyVerifier } from './api-key-verifier.js';
import { generateApiKey, hashApiKey, type Principal } from './api-keys.js';
import { FailedAuthLimiter } from '../http/failed-auth-limit.js';

const valid = generateApiKey();
const holder: Principal = { keyId: 'k1', role: 'operator', accountId: null };

/** An AuthGuard over a directory that knows `valid`, counting its lookups; FAILED_AUTH_PER_MINUTE = budget. */
function guardWith(budget: number) {
  let lookups = 0;
  const verifier = new ApiKeyVerifier(hashApiKey(generateApiKey()), (hash) => {
    lookups++;
    return Promise.resolve(hash === hashApiKey(valid) ? holder : null);
  });
  const guard = new AuthGuard(new Reflector(), verifier, new FailedAuthLimiter(budget, { now: () => 0 }));
  return { guard, lookups: () => lookups };
}

/** One request from `ip` with `key` (none: no Authorization header): its status and Retry-After. */
async function send(guard: AuthGuard, ip: string, key: string | null): Promise<{ status: number; retryAfter?: string }> {
  const headers: Record<string, string> = {};
  const request = { ip, headers: key === null ? {} : { authorization: `Bearer ${key}` } };
  const response = { setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value) };
  const context = {
    getType: () => 'http',
    getHandler: () => send,
    getClass: () => AuthGuard,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }),
  } as unknown as ExecutionContext;
  try {
    await guard.canActivate(context);
    return { status: 200 };
  } catch (error) {
    if (!(error instanceof HttpException)) throw error;
    return { status: error.getStatus(), ...(headers['retry-after'] ? { retryAfter: headers['retry-after'] } : {}) };
  }
}

describe('AuthGuard', () => {
  describe('when an address has presented its budget of refused keys', () => {
    it('answers 429 with Retry-After to any key from it, without looking the key up', async () => {
      const { guard, lookups } = guardWith(3);
      const unknown = generateApiKey();
      for (let i = 0; i < 3; i++) expect(await send(guard, '192.0.2.1', unknown)).toEqual({ status: 401 });
      expect(lookups()).toBe(3);
      expect(await send(guard, '192.0.2.1', unknown)).toEqual({ status: 429, retryAfter: '20' });
      expect(await send(guard, '192.0.2.1', valid)).toEqual({ status: 429, retryAfter: '20' });
      expect(lookups()).toBe(3);
    });

    it('still serves other addresses', async () => {
      const { guard } = guardWith(1);
      await send(guard, '192.0.2.1', generateApiKey());
      expect(await send(guard, '192.0.2.2', valid)).toEqual({ status: 200 });
      expect(await send(guard, '192.0.2.2', generateApiKey())).toEqual({ status: 401 });
    });
  });

  describe('before the budget is spent', () => {
    it.each([
      ['a valid key', 200, 1, valid],
      ['an unknown key', 401, 1, generateApiKey()],
      ['a key not of the issued form', 401, 0, 'not-a-key'],
      ['no key', 401, 0, null],
    ])('answers %s with %i after %i lookups', async (_, status, lookups, key) => {
      const { guard, lookups: counted } = guardWith(10);
      expect((await send(guard, '192.0.2.1', key)).status).toBe(status);
      expect(counted()).toBe(lookups);
    });

    it('spends the budget only on presented keys that are refused', async () => {
      const { guard } = guardWith(2);
      for (let i = 0; i < 5; i++) await send(guard, '192.0.2.1', null);
      for (let i = 0; i < 5; i++) await send(guard, '192.0.2.1', valid);
      expect(await send(guard, '192.0.2.1', generateApiKey())).toEqual({ status: 401 });
      expect(await send(guard, '192.0.2.1', 'not-a-key')).toEqual({ status: 401 });
      expect((await send(guard, '192.0.2.1', valid)).status).toBe(429);
    });
  });
});
