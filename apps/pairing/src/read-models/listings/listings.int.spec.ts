/**
 * The list projections against a real PostgreSQL: the migration fills them from streams stored before it existed, and
 * the list queries page them in a stable order with their filters.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestEventStore, sampleEvent, type TestEventStore } from '#shared/testing';
import { CreateListings1766000000000, CreatePairMemberships1764000000001 } from '../../infrastructure/migrations.js';
import { listPairs, listProducts } from './listings.query.js';

const [A, B, C, D] = ['00000000000A', '00000000000B', '00000000000C', '00000000000D'];
const PAIR_AB = '00000000-0000-4000-8000-0000000000ab';
const PAIR_CD = '00000000-0000-4000-8000-0000000000cd';
const metadata = { correlationId: null, causationId: null };

let db: TestEventStore;

beforeAll(async () => {
  db = await createTestEventStore('pairing_listings', [CreatePairMemberships1764000000001]);
  const at = (day: number) => `2025-01-${String(day).padStart(2, '0')}T00:00:00.000Z`;
  await db.store.transaction(async (tx) => {
    const append = (streamId: string, version: number, event: Parameters<typeof db.store.append>[3][number]) =>
      db.store.append(tx, streamId, version, [event], { occurredAt: new Date(), metadata });
    for (const [serial, accountId] of [
      [A, 'acct-a'],
      [B, 'acct-a'],
      [C, 'acct-b'],
      [D, 'acct-b'],
    ] as const)
      await append(
        `product-${serial}`,
        0,
        sampleEvent('ProductRegistered', { serial, accountId, model: 'NSA 2700', firmwareVersion: '7.0.1', registeredAt: at(1) }),
      );
    await append(
      `product-${A}`,
      1,
      sampleEvent('ProductFirmwareChanged', {
        serial: A,
        accountId: 'acct-a',
        model: 'NSA 2700',
        previousFirmwareVersion: '7.0.1',
        firmwareVersion: '7.2.0',
        changedAt: at(2),
      }),
    );
    const pair = (pairId: string, primarySerial: string, secondarySerial: string, accountId: string, day: number) => ({
      pairId,
      primarySerial,
      secondarySerial,
      model: 'NSA 2700',
      accountId,
      associatedAt: at(day),
    });
    await append(`pair-${PAIR_AB}`, 0, sampleEvent('ProductsAssociated', pair(PAIR_AB, A, B, 'acct-a', 3)));
    await append(
      `pair-${PAIR_AB}`,
      1,
      sampleEvent('ProductsDissociated', { ...pair(PAIR_AB, A, B, 'acct-a', 3), dissociatedAt: at(4) }),
    );
    await append(`pair-${PAIR_CD}`, 0, sampleEvent('ProductsAssociated', pair(PAIR_CD, C, D, 'acct-b', 5)));
  });
  // The list tables arrive with a later release: their migration reads what was stored before.
  const runner = db.dataSource.createQueryRunner();
  try {
    await new CreateListings1766000000000().up(runner);
  } finally {
    await runner.release();
  }
});

afterAll(async () => {
  await db?.dispose();
});

describe('the product list, filled from the stored streams', () => {
  it('pages an account’s products in serial order, each once, with their state as folded', async () => {
    const first = await db.store.transaction((tx) => listProducts(tx, { accountId: 'acct-a' }, null, 1));
    expect(first.items.map((p) => [p.serial, p.firmwareVersion])).toEqual([[A, '7.2.0']]);
    expect(first.nextCursor).not.toBeNull();
    const second = await db.store.transaction((tx) => listProducts(tx, { accountId: 'acct-a' }, A, 1));
    expect(second).toEqual({
      items: [expect.objectContaining({ serial: B, accountId: 'acct-a', pairId: null })],
      nextCursor: null,
    });
  });

  it('lists every account for a null scope, and narrows by model and pair status', async () => {
    const all = await db.store.transaction((tx) => listProducts(tx, { accountId: null }, null, 10));
    expect(all.items.map((p) => p.serial)).toEqual([A, B, C, D]);
    const tz = await db.store.transaction((tx) => listProducts(tx, { accountId: null, model: 'TZ 270' }, null, 10));
    expect(tz.items).toEqual([]);
    // Paired or not is pair_memberships' answer, which these raw appends did not write.
    const paired = await db.store.transaction((tx) => listProducts(tx, { accountId: null, pairStatus: 'paired' }, null, 10));
    expect(paired.items).toEqual([]);
  });
});

describe('the pair list, filled from the stored streams', () => {
  it('pages pairs newest association first, with their status, and narrows by account and status', async () => {
    const first = await db.store.transaction((tx) => listPairs(tx, { accountId: null }, null, 1));
    expect(first.items.map((p) => [p.pairId, p.status])).toEqual([[PAIR_CD, 'associated']]);
    const cursor = JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString()) as [string, string];
    const second = await db.store.transaction((tx) => listPairs(tx, { accountId: null }, cursor, 1));
    expect(second.items.map((p) => [p.pairId, p.status, p.dissociatedAt])).toEqual([
      [PAIR_AB, 'dissociated', '2025-01-04T00:00:00.000Z'],
    ]);
    expect(second.nextCursor).toBeNull();
    const mine = await db.store.transaction((tx) => listPairs(tx, { accountId: 'acct-a', status: 'associated' }, null, 10));
    expect(mine.items).toEqual([]);
  });
});
