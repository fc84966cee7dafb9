/**
 * A rogue on an open bus (the machine's NATS, no authorization, as a careless deployment would run it): an anonymous
 * client subscribes to every request/reply subject of the system and answers every request at once, forging an
 * operator for any API key, a product for any serial, and "nothing committed" for every producer. The services
 * believe only answers signed by the owning service for that request, so every forgery is ignored: never-issued keys
 * get 401, never-registered serials get no license, no account sees another's data, and readiness is not fooled.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { busNames } from '#shared/contracts';
import { expectProblem } from './support/problems.js';
import { NATS_URL, api, eventually, randomSerial, startSystem, type Api, type RunningSystem } from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(120_000);

let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;
let rogue: NatsConnection;
let answering: Subscription;
/** Requests the rogue saw and answered, by subject. */
const answered = new Map<string, number>();

const NEVER_ISSUED_KEY = `hlsk_${'A'.repeat(43)}`;

/** Registers a product of `accountId` on pairing (as the operator). */
const { register } = driver(() => system, 'acct-rogue');

beforeAll(async () => {
  system = await startSystem('rogue_responder');
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
  const names = busNames(system.namespace);
  rogue = await connect({ servers: NATS_URL, name: 'rogue-responder' });
  // Every request/reply subject of this deployment; answered before pairing can (same process, no database).
  answering = rogue.subscribe(`${system.namespace}.rpc.>`, {
    callback: (_error, msg) => {
      answered.set(msg.subject, (answered.get(msg.subject) ?? 0) + 1);
      let result: unknown;
      if (msg.subject === names.apiKeyLookup) result = { keyId: 'forged', role: 'operator', accountId: null };
      else if (msg.subject === names.productLookup) {
        const { serial } = msg.json<{ serial: string }>();
        result = {
          serial,
          model: 'NSA 2700',
          firmwareVersion: '7.0.1',
          accountId: 'acct-rogue-a',
          registeredAt: new Date().toISOString(),
          statefulSyncCapable: true,
          pairId: null,
        };
      } else result = { eventId: null };
      msg.respond(JSON.stringify({ result }));
    },
  });
  await rogue.flush();
}, 120_000);

afterAll(async () => {
  answering?.unsubscribe();
  await rogue?.close();
  await system?.stop().catch(() => undefined);
}, 60_000);

describe('with a rogue answering every request on the bus', () => {
  it('refuses a never-issued key everywhere: 401, never the forged operator', async () => {
    expectProblem(await api(system.licensing, NEVER_ISSUED_KEY).get('/catalog'), 401, 'UNAUTHENTICATED');
    expectProblem(
      await api(system.licensing, NEVER_ISSUED_KEY).post(`/products/${randomSerial()}/licenses`, { sku: 'GATEWAY_AV' }),
      401,
      'UNAUTHENTICATED',
    );
    expectProblem(
      await api(system.syncAgent, NEVER_ISSUED_KEY).get('/pairs/readiness?accountId=acct-rogue-a'),
      401,
      'UNAUTHENTICATED',
    );
    expect(answered.get(busNames(system.namespace).apiKeyLookup) ?? 0).toBeGreaterThan(0);
  });

  it('grants nothing to a serial pairing never registered, though the rogue vouches for it', async () => {
    const serial = randomSerial();
    expectProblem(await licensing.post(`/products/${serial}/licenses`, { sku: 'GATEWAY_AV' }), 404, 'PRODUCT_NOT_FOUND');
    expect((await licensing.get(`/products/${serial}/licenses`)).status).toBe(404);
    expect(answered.get(busNames(system.namespace).productLookup) ?? 0).toBeGreaterThan(0);
  });

  it("lets no account read another's licenses through a forged product (nothing forged is remembered)", async () => {
    const serialOfB = await register({ accountId: 'acct-rogue-b' });
    expect((await licensing.post(`/products/${serialOfB}/licenses`, { sku: 'GATEWAY_AV' })).status).toBe(201);
    const created = await pairing.post('/api-keys', { name: 'reader of A', role: 'reader', accountId: 'acct-rogue-a' });
    expect(created.status).toBe(201);
    const readerOfA = api(system.licensing, created.body.apiKey as string);
    // The rogue claims every serial belongs to account A; licensing believes pairing's signed answer (account B).
    expect((await readerOfA.get(`/products/${serialOfB}/licenses`)).status).toBe(404);
    expect((await readerOfA.get(`/products/${serialOfB}/licenses`)).status).toBe(404);
  });

  it('is not fooled into readiness by a forged "nothing committed", and reports the pair ready once it is', async () => {
    const primary = await register({ accountId: 'acct-rogue-a' });
    const secondary = await register({ accountId: 'acct-rogue-a' });
    const pair = await pairing.post('/pairs', { primarySerial: primary, secondarySerial: secondary });
    expect(pair.status).toBe(201);
    expect((await licensing.post(`/products/${primary}/licenses`, { sku: 'SONICOS_ENHANCED' })).status).toBe(201);
    expect((await licensing.post(`/products/${primary}/licenses`, { sku: 'GATEWAY_AV' })).status).toBe(201);
    await eventually(async () => (await syncAgent.get(`/pairs/${pair.body.pairId}/failover-readiness`)).body?.ready === true, {
      description: 'the pair ready',
      timeoutMs: 30_000,
    });
    const report = await syncAgent.get<{ gaps: { severity: string }[] }>(`/pairs/${pair.body.pairId}/failover-readiness`);
    expect(report.body.gaps.filter((g) => g.severity === 'blocking')).toEqual([]);
    expect(answered.get(busNames(system.namespace).newestEvent('licensing')) ?? 0).toBeGreaterThan(0);
  });

  it('counts the forgeries it ignored on /metrics', async () => {
    const metrics = (await api(system.licensing).get<string>('/metrics')).body;
    const forged = [...metrics.matchAll(/^ha_license_sync_rpc_forged_replies_total\{[^}]*\} (\d+)/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
    expect(forged).toBeGreaterThan(0);
  });
});
