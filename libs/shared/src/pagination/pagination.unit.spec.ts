import { describe, expect, it } from '@jest/globals';
import { ForbiddenException } from '@nestjs/common';
import { z } from 'zod';
import { cursorOf, encodeCursor, listScope, pageOf, PageLimit } from './pagination.js';

describe('cursors', () => {
  const cursor = cursorOf(z.tuple([z.iso.datetime(), z.uuid()]));
  const key = ['2025-06-01T00:00:00.000Z', '0f5a3c1e-7b7d-4f43-9a4e-2f0c9a8f6d11'] as const;

  it('decode to the key they were made from', () => {
    expect(cursor.parse(encodeCursor(key))).toEqual(key);
  });

  it.each([
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    ['another list’s key', encodeCursor(['0123456789AB'])],
    ['too long', 'a'.repeat(513)],
  ])('refuses a cursor that is %s', (_, value) => {
    const result = cursor.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('is not a cursor of this list');
  });
});

describe('pageOf', () => {
  const rows = [1, 2, 3];

  it('gives a cursor when a row beyond the limit was read', () => {
    const page = pageOf(
      rows,
      2,
      (n) => [n],
      (n) => n * 10,
    );
    expect(page).toEqual({ items: [10, 20], nextCursor: encodeCursor([2]) });
  });

  it('gives none on the last page', () => {
    expect(
      pageOf(
        rows,
        3,
        (n) => [n],
        (n) => n,
      ),
    ).toEqual({ items: [1, 2, 3], nextCursor: null });
  });
});

describe('PageLimit', () => {
  it.each([['0'], ['201'], ['1.5'], ['ten']])('refuses %s', (limit) => {
    expect(PageLimit.safeParse(limit).success).toBe(false);
  });

  it('defaults to 50 and reads numbers from the query string', () => {
    expect([PageLimit.parse(undefined), PageLimit.parse('200')]).toEqual([50, 200]);
  });
});

describe('listScope', () => {
  it('reads every account for an operator or auditor unless one is named', () => {
    expect(listScope({ keyId: 'o', role: 'operator', accountId: null }, undefined)).toBeNull();
    expect(listScope({ keyId: 'a', role: 'auditor', accountId: null }, 'acme')).toBe('acme');
  });

  it("reads an account-scoped key's own account, and refuses another", () => {
    const reader = { keyId: 'r', role: 'reader', accountId: 'acme' } as const;
    expect(listScope(reader, undefined)).toBe('acme');
    expect(listScope(reader, 'acme')).toBe('acme');
    expect(() => listScope(reader, 'globex')).toThrow(ForbiddenException);
  });
});
