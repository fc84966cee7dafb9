/**
 * Stateful synchronization end to end: `StatefulSyncChanged` is published for the pair each time it turns on
 * or off, firmware upgrades and downgrades included, and the effective sets of both units follow live.
 * Run `npm run build` first.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { busNames, parseEnvelope, type EffectiveLicenseSetV1, type StatefulSyncChangedV1 } from '#shared/contracts';
import { NATS_URL, api, eventually, randomSerial, startSystem, type Api, type RunningSystem } from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(120_000);

const SYNC_TIMEOUT_MS = 20_000;

let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;
let nc: NatsConnection;
const published: StatefulSyncChangedV1[] = [];

const { register } = driver(() => system, 'acct-stateful');

beforeAll(async () => {
  system = await startSystem('stateful');
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
  nc = await connect({ servers: NATS_URL, name: 'stateful-sync-e2e' });
  nc.subscribe(busNames(system.namespace).subjectsOfType('StatefulSyncChanged'), {
    callback: (_error, msg) => {
      const envelope = parseEnvelope(msg.data);
      if (envelope.type === 'StatefulSyncChanged') published.push(envelope.data);
    },
  });
  await nc.flush();
}, 90_000);

afterAll(async () => {
  await nc?.close();
  await system?.stop();
}, 60_000);

async function statefulSyncOf(serial: string): Promise<EffectiveLicenseSetV1['statefulSync']> {
  return (await syncAgent.get<EffectiveLicenseSetV1>(`/products/${serial}/effective-licenses`)).body.statefulSync;
}

/** Waits until the pair's published statuses are exactly `expected`, in order. */
async function expectPublished(pairId: string, expected: Pick<StatefulSyncChangedV1, 'enabled' | 'reason'>[]): Promise<void> {
  await eventually(
    () => {
      const ofPair = published.filter((p) => p.pairId === pairId).map(({ enabled, reason }) => ({ enabled, reason }));
      expect(ofPair).toEqual(expected);
      return true;
    },
    { timeoutMs: SYNC_TIMEOUT_MS, description: `StatefulSyncChanged for ${pairId}: ${JSON.stringify(expected)}` },
  );
}

describe('when the Primary of an NSA pair holds STATEFUL_SYNC', () => {
  it('publishes on, then off and on again as a unit is downgraded and upgraded, then off when dissociated', async () => {
    const account = `acct-ss-${randomSerial()}`;
    const primary = await register({ accountId: account, firmwareVersion: '7.0.1', model: 'NSA 4700' });
    const secondary = await register({ accountId: account, firmwareVersion: '7.0.1', model: 'NSA 4700' });
    expect((await licensing.post(`/products/${primary}/licenses`, { sku: 'STATEFUL_SYNC' })).status).toBe(201);
    // Licensing and pairing publish on their own streams: only once the sync agent has the grant is the pair
    // sure to start licensed (otherwise NOT_LICENSED first, then on, is just as correct).
    await eventually(
      async () => {
        const set = (await syncAgent.get<EffectiveLicenseSetV1>(`/products/${primary}/effective-licenses`)).body;
        return set.licenses?.some((l) => l.sku === 'STATEFUL_SYNC') === true;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, description: 'the grant at the sync agent' },
    );
    const pair = await pairing.post<{ pairId: string }>('/pairs', { primarySerial: primary, secondarySerial: secondary });
    expect(pair.status).toBe(201);
    const { pairId } = pair.body;

    await expectPublished(pairId, [{ enabled: true, reason: null }]);
    expect(await statefulSyncOf(secondary)).toEqual({ enabled: true, reason: null });

    expect((await pairing.patch(`/products/${secondary}`, { firmwareVersion: '3.9.2' })).status).toBe(200);
    await expectPublished(pairId, [
      { enabled: true, reason: null },
      { enabled: false, reason: 'FIRMWARE_TOO_OLD' },
    ]);
    expect(await statefulSyncOf(primary)).toEqual({ enabled: false, reason: 'FIRMWARE_TOO_OLD' });

    expect((await pairing.patch(`/products/${secondary}`, { firmwareVersion: '7.1.0' })).status).toBe(200);
    await expectPublished(pairId, [
      { enabled: true, reason: null },
      { enabled: false, reason: 'FIRMWARE_TOO_OLD' },
      { enabled: true, reason: null },
    ]);

    expect((await pairing.delete(`/pairs/${pairId}`)).status).toBe(200);
    await expectPublished(pairId, [
      { enabled: true, reason: null },
      { enabled: false, reason: 'FIRMWARE_TOO_OLD' },
      { enabled: true, reason: null },
      { enabled: false, reason: 'NOT_PAIRED' },
    ]);
    expect(
      published.filter((p) => p.pairId === pairId).every((p) => p.primarySerial === primary && p.secondarySerial === secondary),
    ).toBe(true);
  });

  it('enables nothing when only the Secondary holds STATEFUL_SYNC', async () => {
    const account = `acct-ss-${randomSerial()}`;
    const primary = await register({ accountId: account, firmwareVersion: '7.0.1', model: 'NSA 4700' });
    const secondary = await register({ accountId: account, firmwareVersion: '7.0.1', model: 'NSA 4700' });
    expect((await licensing.post(`/products/${secondary}/licenses`, { sku: 'STATEFUL_SYNC' })).status).toBe(201);
    const pair = await pairing.post<{ pairId: string }>('/pairs', { primarySerial: primary, secondarySerial: secondary });
    expect(pair.status).toBe(201);
    await expectPublished(pair.body.pairId, [{ enabled: false, reason: 'NOT_LICENSED' }]);
    expect(await statefulSyncOf(secondary)).toEqual({ enabled: false, reason: 'NOT_LICENSED' });
  });
});
