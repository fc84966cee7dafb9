/**
 * Replacement of a failed unit (RMA) across the three services: pairing swaps the unit, licensing transfers
 * the failed unit's licenses to its successor, and the sync agent's effective sets never lose or double a
 * license at any step it publishes. Run `npm run build` first.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { busNames, parseEnvelope, type EffectiveLicenseSetV1, type EffectiveLicensesChangedV1 } from '#shared/contracts';
import {
  DAY_MS,
  NATS_URL,
  api,
  eventually,
  fromNow,
  randomSerial,
  startSystem,
  type Api,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(120_000);

const SYNC_TIMEOUT_MS = 20_000;
const SHARED = ['GATEWAY_AV', 'SONICOS_ENHANCED', 'SUPPORT_24X7'];

let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;
let nc: NatsConnection;

const { register, grant } = driver(() => system, 'acct-replacement');

beforeAll(async () => {
  system = await startSystem('replacement');
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
  nc = await connect({ servers: NATS_URL, name: 'replacement-e2e' });
}, 90_000);

afterAll(async () => {
  await nc?.close();
  await system?.stop();
}, 60_000);

async function effective(serial: string): Promise<EffectiveLicenseSetV1> {
  const response = await syncAgent.get<EffectiveLicenseSetV1>(`/products/${serial}/effective-licenses`);
  expect(response.status).toBe(200);
  return response.body;
}

const skus = (set: EffectiveLicenseSetV1) => set.licenses.map((l) => l.sku);
const licenseIdsOf = (set: EffectiveLicenseSetV1) => set.licenses.flatMap((l) => l.sources.map((s) => s.licenseId));

/** Records every EffectiveLicensesChanged the sync agent publishes for `serials`, in order. */
function recordChanges(serials: string[]): { changes: EffectiveLicensesChangedV1[]; subscription: Subscription } {
  const changes: EffectiveLicensesChangedV1[] = [];
  const names = busNames(system.namespace);
  const subscription = nc.subscribe(names.subjectsOfType('EffectiveLicensesChanged'), {
    callback: (_error, msg) => {
      const envelope = parseEnvelope(msg.data);
      if (envelope.type === 'EffectiveLicensesChanged' && serials.includes(envelope.data.serial)) changes.push(envelope.data);
    },
  });
  return { changes, subscription };
}

describe('when the Primary of a licensed pair fails', () => {
  let primary: string;
  let secondary: string;
  let replacement: string;
  let oldPairId: string;
  let newPairId: string;
  const licenseIds: string[] = [];
  let recorded: ReturnType<typeof recordChanges>;
  let beforeFailure: string;

  beforeAll(async () => {
    const account = `acct-rma-${randomSerial()}`;
    [primary, secondary, replacement] = [
      await register({ accountId: account }),
      await register({ accountId: account }),
      await register({ accountId: account }),
    ];
    licenseIds.push((await grant(primary, 'SONICOS_ENHANCED')).licenseId);
    licenseIds.push((await grant(primary, 'SUPPORT_24X7', { expiresAt: fromNow(365 * DAY_MS) })).licenseId);
    licenseIds.push((await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(365 * DAY_MS) })).licenseId);
    const pair = await pairing.post<{ pairId: string }>('/pairs', { primarySerial: primary, secondarySerial: secondary });
    expect(pair.status).toBe(201);
    oldPairId = pair.body.pairId;
    await eventually(async () => (expect(skus(await effective(secondary))).toEqual(SHARED), true), {
      timeoutMs: SYNC_TIMEOUT_MS,
      description: 'the Secondary to share the Primary licenses before the failure',
    });

    beforeFailure = new Date().toISOString();
    recorded = recordChanges([secondary, replacement]);
    await nc.flush();
    const replaced = await pairing.post<{ pairId: string; primarySerial: string; secondarySerial: string }>(
      `/pairs/${oldPairId}/replacements`,
      { failedSerial: primary, replacementSerial: replacement },
    );
    expect(replaced.status).toBe(201);
    newPairId = replaced.body.pairId;
    expect(replaced.body).toEqual(expect.objectContaining({ primarySerial: secondary, secondarySerial: replacement }));
  });

  afterAll(() => recorded?.subscription.unsubscribe());

  it('makes the old Secondary the Primary with the failed unit licenses, and the replacement its Secondary', async () => {
    await eventually(
      async () => {
        const [newPrimary, newSecondary] = [await effective(secondary), await effective(replacement)];
        expect({ role: newPrimary.role, peer: newPrimary.peerSerial, pairId: newPrimary.pairId, skus: skus(newPrimary) }).toEqual(
          {
            role: 'primary',
            peer: replacement,
            pairId: newPairId,
            skus: SHARED,
          },
        );
        expect({ role: newSecondary.role, skus: skus(newSecondary) }).toEqual({ role: 'secondary', skus: SHARED });
        expect(newSecondary.licenses.every((l) => l.sources.every((s) => s.from === 'primary'))).toBe(true);
        return true;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, description: 'the new pair to hold the failed Primary licenses' },
    );
  });

  it('transfers the licenses to the successor in licensing, recorded as events', async () => {
    await eventually(
      async () => {
        const moved = await licensing.get<{ licenses: { licenseId: string; serial: string }[] }>(
          `/products/${secondary}/licenses`,
        );
        expect(moved.body.licenses.map((l) => l.licenseId).sort()).toEqual([...licenseIds].sort());
        return true;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, description: 'licensing to transfer the licenses' },
    );
    expect((await licensing.get<{ licenses: unknown[] }>(`/products/${primary}/licenses`)).body.licenses).toEqual([]);
    const history = await licensing.get<unknown[]>(`/licenses/${licenseIds[0]}/history`);
    expect(history.status).toBe(200);
    expect(JSON.stringify(history.body)).toContain('transferred');
  });

  it('never publishes a set of the successor or the replacement that misses or doubles a license', async () => {
    await eventually(
      async () => {
        const last = recorded.changes.filter((c) => c.serial === secondary).at(-1);
        expect(last?.set.licenses.flatMap((l) => l.sources.map((s) => s.serial))).toEqual([secondary, secondary, secondary]);
        return true;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, description: 'the transfers to reach the sync agent' },
    );
    expect(recorded.changes.length).toBeGreaterThan(0);
    for (const change of recorded.changes) {
      expect({ serial: change.serial, skus: skus(change.set) }).toEqual({ serial: change.serial, skus: SHARED });
      const ids = licenseIdsOf(change.set);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual([...licenseIds].sort());
    }
  });

  it('shows every step in the successor history and answers "as of" before and after the replacement', async () => {
    const history = await syncAgent.get<{ items: { cause: { type: string } }[] }>(
      `/products/${secondary}/effective-licenses/history?limit=500`,
    );
    expect(history.status).toBe(200);
    const causes = history.body.items.map((i) => i.cause.type);
    expect(causes).toContain('ProductsAssociated');
    expect(causes).toContain('EntitlementChanged');
    const asOf = async (at: string) =>
      (await syncAgent.get<EffectiveLicenseSetV1>(`/products/${secondary}/effective-licenses?at=${encodeURIComponent(at)}`)).body;
    const before = await asOf(beforeFailure);
    expect({ role: before.role, peer: before.peerSerial, skus: skus(before) }).toEqual({
      role: 'secondary',
      peer: primary,
      skus: SHARED,
    });
    const after = await asOf(new Date().toISOString());
    expect({ role: after.role, peer: after.peerSerial, skus: skus(after) }).toEqual({
      role: 'primary',
      peer: replacement,
      skus: SHARED,
    });
    const oldPair = await pairing.get<{ status: string; replacedBy: string }>(`/pairs/${oldPairId}`);
    expect(oldPair.body).toEqual(expect.objectContaining({ status: 'dissociated', replacedBy: newPairId }));
  });

  it('reports the new pair ready for failover', async () => {
    await eventually(
      async () => {
        const readiness = await syncAgent.get<{ ready: boolean; gaps: unknown[] }>(`/pairs/${newPairId}/failover-readiness`);
        expect({ status: readiness.status, ready: readiness.body.ready, gaps: readiness.body.gaps }).toEqual({
          status: 200,
          ready: true,
          gaps: [],
        });
        return true;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, description: 'the new pair to be ready' },
    );
  });
});
