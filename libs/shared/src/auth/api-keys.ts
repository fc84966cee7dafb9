import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * API keys: who may call the HTTP API, as what, for which account. Pure (node:crypto only), so the guard,
 * the key store, the CLI and the unit tests share one definition.
 *
 * A key is `hlsk_` + 32 random bytes in base64url (256 bits): the prefix lets secret scanners and log
 * redaction recognise it. Only its SHA-256 is ever stored or sent over the bus: with 256 bits of entropy a
 * fast hash cannot be brute-forced, so a slow password hash (bcrypt, scrypt) would only add latency to every
 * request (see docs/decisions.md §21).
 */
export const API_KEY_PREFIX = 'hlsk_';
export const API_KEY_PATTERN = /^hlsk_[A-Za-z0-9_-]{43}$/;

/**
 * operator: everything, every account; auditor: read every account, and nothing else (never grants, keys or
 * replays); account-admin: its account's products and pairs; reader: read its account; metrics: GET /metrics only.
 */
export const API_KEY_ROLES = ['operator', 'auditor', 'account-admin', 'reader', 'metrics'] as const;
export const ApiKeyRole = z.enum(API_KEY_ROLES);
export type ApiKeyRole = z.infer<typeof ApiKeyRole>;

/** Roles whose keys act for one account (and must name it). */
export const ACCOUNT_SCOPED_ROLES: readonly ApiKeyRole[] = ['account-admin', 'reader'];

/** Roles whose keys see every account: the operator, and the auditor (who only reads). */
export const ALL_ACCOUNT_ROLES: readonly ApiKeyRole[] = ['operator', 'auditor'];

/** Whether the caller sees every account (no account check, no lookup needed). */
export function seesEveryAccount(principal: Principal): boolean {
  return ALL_ACCOUNT_ROLES.includes(principal.role);
}

/** Account ids as the API accepts them everywhere. */
export const AccountId = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** Who is calling: the key's id (never the key), its role and, for account-scoped roles, its account. */
export interface Principal {
  readonly keyId: string;
  readonly role: ApiKeyRole;
  readonly accountId: string | null;
}

/** A new random API key (256 bits). */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** What is stored and compared: the key's SHA-256, hex. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Two hex hashes compared in constant time. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/** The token of an `Authorization: Bearer <token>` header, or null when the header is absent or malformed. */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header.trim());
  return match ? match[1]! : null;
}

/**
 * Whether the caller may see something of `accountId` (what it may do there is the route's `@Allow`): operators and
 * auditors every account, account-scoped keys their own, metrics keys none.
 */
export function canAccess(principal: Principal, accountId: string): boolean {
  return seesEveryAccount(principal) || (principal.accountId !== null && principal.accountId === accountId);
}

/** Replaces anything that looks like a key or a bearer token, so that no log line carries a secret. */
export function redactSecrets(text: string): string {
  return text
    .replace(/hlsk_[A-Za-z0-9_-]+/g, 'hlsk_[REDACTED]')
    .replace(/(Bearer\s+)[^\s"',]+/gi, '$1[REDACTED]')
    .replace(/(\/\/[^/:@\s]+:)[^@/\s]+@/g, '$1[REDACTED]@');
}
