/**
 * Who may do what: each role against the kinds of route (deny by default), and which accounts it sees. The guard
 * is the real AuthGuard with Nest's Reflector over a controller's real decorators, and a verifier that knows one
 * key per role.
 */
import { describe, expect, it } from '@jest/globals';
import { Controller, ForbiddenException, Get, Post, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyVerifier } from './api-key-verifier.js';
import {
  ACCOUNT_SCOPED_ROLES,
  API_KEY_ROLES,
  canAccess,
  hashApiKey,
  seesEveryAccount,
  type ApiKeyRole,
  type Principal,
} from './api-keys.js';
import { ACCOUNT_WRITERS, Allow, AuthGuard, READERS } from './auth.guard.js';
import { FailedAuthLimiter } from '../http/failed-auth-limit.js';

@Controller('things')
class Routes {
  @Get()
  @Allow(...READERS)
  read(): void {}

  @Post()
  @Allow(...ACCOUNT_WRITERS)
  write(): void {}

  /** No @Allow: operators only (licenses, API keys, dead-letter replays). */
  @Post('grant')
  operatorOnly(): void {}

  @Get('metrics')
  @Allow('operator', 'metrics')
  metrics(): void {}
}

const principalOf = (role: ApiKeyRole): Principal => ({
  keyId: `key-${role}`,
  role,
  accountId: ACCOUNT_SCOPED_ROLES.includes(role) ? 'acme' : null,
});

/** A well-formed key per role, and its hash. */
const keyOf = (role: ApiKeyRole) => `hlsk_${role.padEnd(43, 'x')}`;
const hashOf = (role: ApiKeyRole) => hashApiKey(keyOf(role));

const guard = new AuthGuard(
  new Reflector(),
  new ApiKeyVerifier('0'.repeat(64), (hash) => {
    const role = API_KEY_ROLES.find((r) => hash === hashOf(r));
    return Promise.resolve(role ? principalOf(role) : null);
  }),
  new FailedAuthLimiter(60),
);

/** What the guard answers a request with `role`'s key to `handler`: allowed, or the refusal's code. */
async function verdict(role: ApiKeyRole, handler: keyof Routes): Promise<'allowed' | 'FORBIDDEN'> {
  const request = { headers: { authorization: `Bearer ${keyOf(role)}` } };
  const context = {
    getType: () => 'http',
    getHandler: () => Object.getOwnPropertyDescriptor(Routes.prototype, handler)!.value as () => void,
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
  try {
    await guard.canActivate(context);
    return 'allowed';
  } catch (error) {
    if (error instanceof ForbiddenException) return 'FORBIDDEN';
    throw error;
  }
}

describe('roles', () => {
  it.each([
    // role            read        write          operator only  metrics
    ['operator', 'allowed', 'allowed', 'allowed', 'allowed'],
    ['auditor', 'allowed', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
    ['account-admin', 'allowed', 'allowed', 'FORBIDDEN', 'FORBIDDEN'],
    ['reader', 'allowed', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
    ['metrics', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'allowed'],
  ] as const)(
    '%s: reads %s, writes %s, operator-only routes %s, metrics %s',
    async (role, read, write, operatorOnly, metrics) => {
      expect([
        await verdict(role, 'read'),
        await verdict(role, 'write'),
        await verdict(role, 'operatorOnly'),
        await verdict(role, 'metrics'),
      ]).toEqual([read, write, operatorOnly, metrics]);
    },
  );

  it('every role is in the table above', () => {
    expect([...API_KEY_ROLES].sort()).toEqual(['account-admin', 'auditor', 'metrics', 'operator', 'reader']);
  });

  describe('the auditor', () => {
    const auditor = principalOf('auditor');

    it('sees every account, as the operator does, without an account of its own', () => {
      expect(auditor.accountId).toBeNull();
      expect(seesEveryAccount(auditor)).toBe(true);
      expect(['acme', 'other'].map((account) => canAccess(auditor, account))).toEqual([true, true]);
    });

    it('is a reader and nothing more: never an account writer', () => {
      expect(READERS).toContain('auditor');
      expect(ACCOUNT_WRITERS).not.toContain('auditor');
      expect(ACCOUNT_SCOPED_ROLES).not.toContain('auditor');
    });
  });

  it.each([
    ['account-admin', false],
    ['reader', false],
    ['metrics', false],
    ['operator', true],
  ] as const)('%s sees every account: %s', (role, expected) => {
    expect(seesEveryAccount(principalOf(role))).toBe(expected);
  });
});
