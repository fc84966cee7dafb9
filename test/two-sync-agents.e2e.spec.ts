import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { busNames, parseEnvelope } from '#shared/contracts';
import { publishSignedEnvelope } from '#shared/testing';
import {
  DAY_MS,
  NATS_URL,
  TEST_OPERATOR_KEY,
  api,
  developmentSigningKey,
  eventually,
  fromNow,
  randomSerial,
  startSystem,
  type Api,
  type RunningSystem,
} from './support/system.js';

/**
 * Two sync-agent processes on one schema and namespace share the durable consumers: each event is applied by
 * one of them, and together they produce exactly what an independent oracle, fed only the acknowledged
 * requests, expects for every unit.
 */

jest.setTimeout(120_000);

let system: RunningSystem;
let pairing: Api;
let licensing: Api;

beforeAll(async () => {
  // Four processes start at once: give them longer than the default on a busy 2-core machine.
  system = await startSystem('two_agents', { syncAgentInstances: 2, readyTimeoutMs: 90_000 });
  pairing = api(system.pairing);
  licensing = api(system.licensing);
}, 150_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

/** What the test knows from the 2xx answers alone, and the effective sets it expects from that. */
class Oracle {
  readonly units: string[] = [];
  private readonly pairs = new Map<string, { primary: string; secondary: string }>();
  private readonly licenses = new Map<string, { serial: string; sku: string; expiresAt: string | null; active: boolean }>();

  register(serial: string): void {
    this.units.push(serial);
  }
  pair(pairId: string, primary: string, secondary: string): void {
    this.pairs.set(pairId, { primary, secondary });
  }
  dissociate(pairId: string): void {
    this.pairs.delete(pairId);
  }
  grant(licenseId: string, serial: string, sku: string, expiresAt: string | null): void {
    this.licenses.set(licenseId, { serial, sku, expiresAt, active: true });
  }
  renew(licenseId: string, expiresAt: string): void {
    this.licenses.get(licenseId)!.expiresAt = expiresAt;
  }
  revoke(licenseId: string): void {
    this.licenses.get(licenseId)!.active = false;
  }

  /** `sku → expiresAt` of the unit's effective set: its own licenses, plus its Primary's shareable ones if a Secondary. */
  expected(serial: string): Record<string, string | null> {
    const primary = [...this.pairs.values()].find((p) => p.secondary === serial)?.primary;
    const sources = [...this.licenses.values()].filter(
      (l) => l.active && (l.serial === serial || (l.serial === primary && l.sku !== 'GMS_PREVENTIVE_MAINTENANCE')),
    );
    const set: Record<string, string | null> = {};
    for (const l of sources) {
      const known = set[l.sku];
      set[l.sku] =
        known === undefined
          ? l.expiresAt
          : known === null || l.expiresAt === null
            ? null
            : known > l.expiresAt
              ? known
              : l.expiresAt;
    }
    return set;
  }
}

async function scrapeConsumed(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TEST_OPERATOR_KEY}` } })).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^ha_license_sync_consumer_events_total\{[^}]*outcome="([a-z]+)"[^}]*\} (\S+)$/gm)) {
    counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

async function published(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TEST_OPERATOR_KEY}` } })).text();
  return Number(/^ha_license_sync_outbox_events_published_total\{[^}]*\} (\S+)$/m.exec(text)?.[1] ?? NaN);
}

describe('two sync-agent instances', () => {
  it('share the work and produce exactly the expected effective set of every unit under a mixed load', async () => {
    const oracle = new Oracle();
    const accountId = `acct-two-${randomBytes(3).toString('hex')}`;
    const ok = <T>(response: { status: number; body: T }, status: number): T => {
      expect({ status: response.status, body: response.body }).toEqual({ status, body: expect.anything() });
      return response.body;
    };
    const grant = async (serial: string, sku: string, expiresAt: string | null) => {
      const body = ok(
        await licensing.post<{ licenseId: string; expiresAt: string | null }>(`/products/${serial}/licenses`, {
          sku,
          ...(expiresAt === null ? {} : { expiresAt }),
        }),
        201,
      );
      oracle.grant(body.licenseId, serial, sku, body.expiresAt);
      return body.licenseId;
    };

    // Register 24 units, pair them two by two, license them.
    const units = Array.from({ length: 24 }, () => randomSerial());
    await Promise.all(
      units.map(async (serial) => {
        ok(await pairing.post('/products', { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId }), 201);
        oracle.register(serial);
      }),
    );
    const pairs = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const [primary, secondary] = [units[2 * i]!, units[2 * i + 1]!];
        const { pairId } = ok(
          await pairing.post<{ pairId: string }>('/pairs', { primarySerial: primary, secondarySerial: secondary }),
          201,
        );
        oracle.pair(pairId, primary, secondary);
        return { pairId, primary, secondary };
      }),
    );
    const grants = await Promise.all(
      pairs.map(async ({ primary, secondary }) => ({
        av: await grant(primary, 'GATEWAY_AV', fromNow(365 * DAY_MS)),
        ips: await grant(primary, 'IPS', null),
        gms: await grant(primary, 'GMS_PREVENTIVE_MAINTENANCE', null),
        support: await grant(secondary, 'SUPPORT_24X7', fromNow(100 * DAY_MS)),
      })),
    );

    // Renew, revoke, dissociate, re-pair, and license the new pair.
    await Promise.all(
      grants.slice(0, 4).map(async ({ av }) => {
        const body = ok(
          await licensing.post<{ expiresAt: string }>(`/licenses/${av}/renewals`, { expiresAt: fromNow(700 * DAY_MS) }),
          201,
        );
        oracle.renew(av, body.expiresAt);
      }),
    );
    await Promise.all(
      [grants[2]!, grants[5]!, grants[9]!].map(async ({ ips }) => {
        ok(await licensing.delete(`/licenses/${ips}`), 200);
        oracle.revoke(ips);
      }),
    );
    await Promise.all(
      pairs.slice(8, 12).map(async ({ pairId }) => {
        ok(await pairing.delete(`/pairs/${pairId}`), 200);
        oracle.dissociate(pairId);
      }),
    );
    for (const [primary, secondary] of [
      [pairs[8]!.primary, pairs[9]!.secondary],
      [pairs[10]!.secondary, pairs[11]!.primary],
    ] as const) {
      const { pairId } = ok(
        await pairing.post<{ pairId: string }>('/pairs', { primarySerial: primary, secondarySerial: secondary }),
        201,
      );
      oracle.pair(pairId, primary, secondary);
      await grant(primary, 'CAPTURE_ATP', fromNow(200 * DAY_MS));
    }

    // Every unit's set, read from either instance, is the oracle's.
    const actual = async (url: string, serial: string) => {
      const response = await api(url).get<{ licenses: { sku: string; expiresAt: string | null }[] }>(
        `/products/${serial}/effective-licenses`,
      );
      expect(response.status).toBe(200);
      return Object.fromEntries(response.body.licenses.map((l) => [l.sku, l.expiresAt]));
    };
    await eventually(
      async () => {
        for (const serial of oracle.units)
          expect({ serial, set: await actual(system.syncAgent, serial) }).toEqual({ serial, set: oracle.expected(serial) });
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'every effective set to be the oracle’s' },
    );
    for (const { url } of system.syncAgents) {
      for (const serial of oracle.units)
        expect({ serial, set: await actual(url, serial) }).toEqual({ serial, set: oracle.expected(serial) });
    }

    // Both consumed, and together they took in each published event exactly once: applied, or refused as an
    // older version when the other instance committed a newer one first (never lost or counted twice; a
    // redelivery shows as redelivered).
    const events = (await published(system.pairing)) + (await published(system.licensing));
    const consumed = await Promise.all(system.syncAgents.map(({ url }) => scrapeConsumed(url)));
    for (const counts of consumed) expect(counts['applied']).toBeGreaterThan(0);
    const once = consumed.reduce((sum, c) => sum + (c['applied'] ?? 0) + (c['rejected'] ?? 0), 0);
    expect(once).toBe(events);
  });

  it('dead-letter a copy of an applied event as REPLAYED and an older version as STALE_VERSION, and change nothing', async () => {
    const serial = randomSerial();
    expect(
      (await pairing.post('/products', { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'acct-two' })).status,
    ).toBe(201);
    expect((await pairing.patch(`/products/${serial}`, { firmwareVersion: '7.1.0' })).status).toBe(200);
    expect((await licensing.post(`/products/${serial}/licenses`, { sku: 'IPS' })).status).toBe(201);
    const names = busNames(system.namespace);
    const set = await eventually(
      async () => {
        const response = await api(system.syncAgent).get<{ licenses: unknown[] }>(`/products/${serial}/effective-licenses`);
        return response.status === 200 && response.body.licenses.length === 1 && response.body;
      },
      { timeoutMs: 20_000, description: 'the product and its license to be projected' },
    );

    let replayedId = '';
    let staleId = '';
    const nc = await connect({ servers: NATS_URL, name: 'two-agents-e2e' });
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      const subject = names.subjectsOfType('ProductRegistered').replace('*', serial);
      const stored = await jsm.streams.getMessage(names.stream('pairing'), { last_by_subj: subject });
      const registered = parseEnvelope(stored!.data);
      replayedId = registered.eventId;
      // The same event again, past JetStream's de-duplication (another message id): a replay, which the inbox
      // catches. Its producer's signature travels with it, as with any copy of a stored message.
      await js.publish(subject, stored!.data, { msgID: randomUUID(), headers: stored!.header });
      // The registration (version 1) as a new event after the firmware change (version 2), signed by pairing: stale.
      staleId = randomUUID();
      await publishSignedEnvelope(js, names, { ...registered, eventId: staleId }, developmentSigningKey('pairing'), randomUUID());
    } finally {
      await nc.close();
    }

    const letters = await eventually(
      async () => {
        const { items } = (
          await api(system.syncAgent).get<{ items: { reason: string; body: string; detail: string }[] }>('/dead-letters')
        ).body;
        const ours = items.filter((l) => [replayedId, staleId].includes((JSON.parse(l.body) as { eventId: string }).eventId));
        return ours.length === 2 && ours;
      },
      { timeoutMs: 20_000, description: 'the copy and the stale version to be dead-lettered' },
    );
    expect(letters.map((l) => [l.reason, (JSON.parse(l.body) as { eventId: string }).eventId]).sort()).toEqual([
      ['REPLAYED', replayedId],
      ['STALE_VERSION', staleId],
    ]);
    expect((await api(system.syncAgent).get(`/products/${serial}/effective-licenses`)).body).toEqual(set);
  });
});
