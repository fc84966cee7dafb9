import { ForbiddenException } from '@nestjs/common';
import { z } from 'zod';
import { AccountId, seesEveryAccount, type Principal } from '../auth/api-keys.js';

/*
 * Keyset pagination for the list endpoints. A page is read in a stable total order (each list names its key, ending in
 * a unique id); its `nextCursor` holds the key of its last row, and the next page starts strictly after it, so rows
 * written meanwhile never shift a page and no row is skipped or repeated. The cursor is opaque to clients (base64url of
 * a small JSON array): it carries no secret and no scope, because every page is read with the caller's account filter
 * again; a tampered cursor can only move the start within what the caller may see anyway.
 */

/** The most rows one page may hold, whatever `limit` asks. */
export const MAX_PAGE_SIZE = 200;

/** `?limit=1..200`, default 50. */
export const PageLimit = z.coerce
  .number()
  .int('must be a whole number')
  .min(1, `must be 1-${MAX_PAGE_SIZE}`)
  .max(MAX_PAGE_SIZE, `must be 1-${MAX_PAGE_SIZE}`)
  .default(50)
  .meta({ description: `Rows per page, 1-${MAX_PAGE_SIZE}.` });

/** A page of a list: the rows, and the cursor of the next page (null on the last). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

/** The documented shape of a page of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` for the next page (same filters); null on the last page.' }),
  });
}

/** A cursor's key: the sort key values of the last row of a page. */
export type CursorKey = readonly (string | number | boolean | null)[];

/** Encodes a page's last sort key as an opaque cursor. */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * `?cursor=`: an opaque cursor from a page's `nextCursor`, decoded into the key `key` describes (a zod tuple). A cursor
 * that is not one of ours fails validation (400 VALIDATION_FAILED on `cursor`) rather than reading from anywhere.
 */
export function cursorOf<K extends z.ZodType<CursorKey>>(key: K) {
  return z
    .string()
    .max(512, 'is not a cursor of this list')
    .regex(/^[A-Za-z0-9_-]+$/, 'is not a cursor of this list')
    .transform((cursor, context): z.output<K> => {
      let json: unknown;
      try {
        json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      } catch {
        json = undefined;
      }
      const parsed = key.safeParse(json);
      if (!parsed.success) {
        context.addIssue({ code: 'custom', message: 'is not a cursor of this list' });
        return z.NEVER;
      }
      return parsed.data;
    })
    .meta({ description: 'Opaque: the `nextCursor` of the previous page, with the same filters. Omit for the first page.' });
}

/** `?accountId=`, documented once for every list. */
export const AccountFilter = AccountId.meta({
  description:
    'Operators and auditors: only this account (default: every account). Account-scoped keys always read their own ' +
    'account; naming another is 403 `FORBIDDEN`.',
});

/**
 * Which account a list reads for the caller: null (every account) or one account. Operators and auditors read every
 * account unless they name one; an account-scoped key reads its own, and naming another is 403 FORBIDDEN, as for
 * `GET /pairs/readiness`.
 */
export function listScope(caller: Principal, requested: string | undefined): string | null {
  if (seesEveryAccount(caller)) return requested ?? null;
  if (caller.accountId === null) throw new Error('an account-scoped key without an account');
  if (requested !== undefined && requested !== caller.accountId)
    throw new ForbiddenException({ code: 'FORBIDDEN', message: 'This key reads its own account only.' });
  return caller.accountId;
}

/** The page of `rows` fetched with LIMIT `limit + 1`: at most `limit` items, and a cursor when there is more. */
export function pageOf<Row, T>(
  rows: readonly Row[],
  limit: number,
  keyOf: (row: Row) => CursorKey,
  view: (row: Row) => T,
): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(view), nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
