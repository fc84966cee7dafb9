/**
 * The list endpoints (products and pairs on pairing, licenses on licensing, readiness on the sync agent) against the
 * real services: keyset pages that walk every row once, filters, the caller's account scope (another account's rows
 * never appear; naming it is 403), validated queries, and the actor (the API key id) on each change's history.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DAY_MS, api, eventually, fromNow, startSystem, type Api, type Json, type RunningSystem } from './support/system.js';
import { driver } from './support/driver.js';

const SYNC_TIMEOUT_MS = 20_000;

describe('lists, scopes and actors', () => {
  let system: RunningSystem;
  let pairing: Api;
  let licensing: Api;
  let syncAgent: Api;
  const mine = `acct-lists-${randomUUID().slice(0, 8)}`;
  const theirs = `acct-lists-other-${randomUUID().slice(0, 8)}`;
  let reader: { pairing: Api; licensing: Api; syncAgent: Api };
  let granter: { keyId: string; licensing: Api };
  const serials: string[] = [];
  let otherSerial: string;
  let pairId: string;
  let licenseId: string;

  const { register } = driver(() => system, 'acct-lists');
  const createKey = async (role: string, accountId?: string): Promise<{ keyId: string; apiKey: string }> => {
    const response = await pairing.post<Json>('/api-keys', { name: `lists ${role}`, role, ...(accountId ? { accountId } : {}) });
    expect(response.status).toBe(201);
    return response.body;
  };
  /** Every item of a list, following `nextCursor` with pages of `limit`. */
  const walk = async (as: Api, path: string, limit: number): Promise<Json[]> => {
    const items: Json[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const separator = path.includes('?') ? '&' : '?';
      const response: { status: number; body: Json } = await as.get<Json>(
        `${path}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(response.status).toBe(200);
      items.push(...(response.body.items ?? response.body.pairs));
      cursor = response.body.nextCursor;
      if (cursor === null) return items;
    }
    throw new Error(`${path} did not end`);
  };

  beforeAll(async () => {
    system = await startSystem('lists');
    pairing = api(system.pairing);
    licensing = api(system.licensing);
    syncAgent = api(system.syncAgent);
    for (let i = 0; i < 5; i++) serials.push(await register({ accountId: mine, model: i === 4 ? 'TZ 270' : 'NSA 2700' }));
    otherSerial = await register({ accountId: theirs });
    const readerKey = await createKey('reader', mine);
    reader = {
      pairing: api(system.pairing, readerKey.apiKey),
      licensing: api(system.licensing, readerKey.apiKey),
      syncAgent: api(system.syncAgent, readerKey.apiKey),
    };
    const operatorKey = await createKey('operator');
    granter = { keyId: operatorKey.keyId, licensing: api(system.licensing, operatorKey.apiKey) };
    const pair = await pairing.post<Json>('/pairs', { primarySerial: serials[0], secondarySerial: serials[1] });
    expect(pair.status).toBe(201);
    pairId = pair.body.pairId;
    const granted = await granter.licensing.post<Json>(`/products/${serials[0]}/licenses`, {
      sku: 'GATEWAY_AV',
      expiresAt: fromNow(40 * DAY_MS),
    });
    expect(granted.status).toBe(201);
    licenseId = granted.body.licenseId;
    expect(
      (await licensing.post(`/products/${serials[2]}/licenses`, { sku: 'IPS', expiresAt: fromNow(200 * DAY_MS) })).status,
    ).toBe(201);
    expect((await licensing.post(`/products/${serials[3]}/licenses`, { sku: 'IPS' })).status).toBe(201);
    expect(
      (await licensing.post(`/products/${otherSerial}/licenses`, { sku: 'IPS', expiresAt: fromNow(10 * DAY_MS) })).status,
    ).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
  });

  it('walks the products of an account in serial order, each once, and filters by model and pair status', async () => {
    const all = await walk(pairing, `/products?accountId=${mine}`, 2);
    expect(all.map((p) => p.serial)).toEqual([...serials].sort());
    expect(all.every((p) => p.accountId === mine)).toBe(true);
    const paired = await walk(pairing, `/products?accountId=${mine}&pairStatus=paired`, 10);
    expect(paired.map((p) => p.serial).sort()).toEqual([serials[0], serials[1]].sort());
    expect(paired.every((p) => p.pairId === pairId)).toBe(true);
    const tz = await walk(pairing, `/products?accountId=${mine}&model=${encodeURIComponent('TZ 270')}`, 10);
    expect(tz.map((p) => p.serial)).toEqual([serials[4]]);
  });

  it("never shows a reader another account's rows, and refuses a reader naming another account", async () => {
    const products = await walk(reader.pairing, '/products', 200);
    expect(products.map((p) => p.serial).sort()).toEqual([...serials].sort());
    const licenses = await walk(reader.licensing, '/licenses', 200);
    expect(licenses.map((l) => l.serial)).not.toContain(otherSerial);
    expect(licenses).toHaveLength(3);
    for (const [as, path] of [
      [reader.pairing, `/products?accountId=${theirs}`],
      [reader.pairing, `/pairs?accountId=${theirs}`],
      [reader.licensing, `/licenses?accountId=${theirs}`],
      [reader.syncAgent, `/pairs/readiness?accountId=${theirs}`],
    ] as const) {
      const response = await as.get(path);
      expect({ path, status: response.status, code: response.body.code }).toEqual({ path, status: 403, code: 'FORBIDDEN' });
    }
  });

  it('lists pairs by status and licenses by expiry (soonest first, perpetual last), SKU and status', async () => {
    const associated = await walk(pairing, `/pairs?accountId=${mine}&status=associated`, 1);
    expect(associated.map((p) => p.pairId)).toEqual([pairId]);
    expect(await walk(pairing, `/pairs?accountId=${mine}&status=dissociated`, 1)).toEqual([]);
    const licenses = await walk(licensing, `/licenses?accountId=${mine}`, 1);
    expect(licenses.map((l) => [l.serial, l.sku])).toEqual([
      [serials[0], 'GATEWAY_AV'],
      [serials[2], 'IPS'],
      [serials[3], 'IPS'],
    ]);
    const soon = await walk(licensing, `/licenses?accountId=${mine}&status=active&expiresBefore=${fromNow(90 * DAY_MS)}`, 10);
    expect(soon.map((l) => l.licenseId)).toEqual([licenseId]);
    const ips = await walk(licensing, `/licenses?accountId=${mine}&sku=IPS&status=active`, 10);
    expect(ips).toHaveLength(2);
  });

  it('refuses bad queries with 400 VALIDATION_FAILED naming the field', async () => {
    for (const [as, path, field] of [
      [pairing, '/products?limit=0', 'limit'],
      [pairing, '/products?limit=201', 'limit'],
      [pairing, '/products?cursor=not-a-cursor', 'cursor'],
      [pairing, '/products?pairStatus=maybe', 'pairStatus'],
      [pairing, '/products?model=NSA%002700', 'model'],
      [licensing, '/licenses?sku=IPS%0A', 'sku'],
      [pairing, '/pairs?status=broken', 'status'],
      [pairing, `/pairs?cursor=${Buffer.from('["x"]').toString('base64url')}`, 'cursor'],
      [licensing, '/licenses?expiresBefore=tomorrow', 'expiresBefore'],
      [licensing, '/licenses?color=red', '(body)'],
      [syncAgent, '/pairs/readiness?ready=maybe', 'ready'],
    ] as const) {
      const response = await as.get<Json>(path);
      expect({ path, status: response.status, code: response.body.code }).toEqual({
        path,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
      if (field !== '(body)') expect((response.body.errors as Json[]).map((e) => e.field)).toContain(field);
    }
  });

  it('lists readiness a page at a time, narrowed to pairs that are not ready', async () => {
    const pair2 = await pairing.post<Json>('/pairs', { primarySerial: serials[2], secondarySerial: serials[3] });
    expect(pair2.status).toBe(201);
    // Each Secondary holds a base OS license of its own, so that it is licensed to take over.
    for (const secondary of [serials[1], serials[3]])
      expect((await licensing.post(`/products/${secondary}/licenses`, { sku: 'SONICOS_ENHANCED' })).status).toBe(201);
    await eventually(
      async () => {
        const all = await walk(syncAgent, `/pairs/readiness?accountId=${mine}`, 1);
        expect(all.map((r) => r.pairId)).toEqual([pairId, pair2.body.pairId]);
        expect(all.every((r) => r.accountId === mine)).toBe(true);
        // serials[3]'s own perpetual IPS is not the Primary's: the Secondary lacks nothing, so both pairs are ready.
        expect(all.map((r) => r.ready)).toEqual([true, true]);
        return true;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 200, description: 'both pairs listed and ready' },
    );
    expect(await walk(reader.syncAgent, '/pairs/readiness?ready=false', 5)).toEqual([]);
    expect((await walk(reader.syncAgent, '/pairs/readiness?ready=true', 5)).map((r) => r.pairId)).toEqual([
      pairId,
      pair2.body.pairId,
    ]);
  });

  it('records the API key id of each change as its actor, in the license and effective-set histories', async () => {
    expect((await licensing.delete(`/licenses/${licenseId}`)).status).toBe(200);
    const history = await licensing.get<Json>(`/licenses/${licenseId}/history`);
    expect(history.status).toBe(200);
    expect((history.body.events as Json[]).map((e) => [e.change, e.actor])).toEqual([
      ['granted', granter.keyId],
      ['revoked', 'bootstrap-operator'],
    ]);
    await eventually(
      async () => {
        const sets = await syncAgent.get<Json>(`/products/${serials[1]}/effective-licenses/history`);
        expect(sets.status).toBe(200);
        const byCause = (sets.body.items as Json[]).map((i) => [i.added, i.removed, i.actor]);
        expect(byCause).toEqual(
          expect.arrayContaining([
            [['GATEWAY_AV'], [], granter.keyId],
            [[], ['GATEWAY_AV'], 'bootstrap-operator'],
          ]),
        );
        return true;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 200, description: "the Secondary's history with actors" },
    );
  });
});
