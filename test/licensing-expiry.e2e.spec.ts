/**
 * End to end: the licensing service's durable expiry scheduler (expiries recorded at their instant, caught up
 * after a downtime, never twice; one warning per expiry in the window) and license transfer when pairing
 * announces a replacement (a ProductsAssociated with `replaces`, published here straight to the pairing stream).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { busNames, parseEnvelope, type BusNames, type EventEnvelope } from '#shared/contracts';
import { publishSignedEnvelope, sampleEvent, testEnvelope } from '#shared/testing';
import {
  DAY_MS,
  NATS_URL,
  api,
  developmentSigningKey,
  eventually,
  fromNow,
  startSystem,
  type Api,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(60_000);

const WINDOW_DAYS = 30;
/** How late an expiry may be recorded after its instant (target ~1 s; the machine is shared, hence the margin). */
const EXPIRY_LATENESS_MS = 2_000;

let system: RunningSystem;
let licensing: Api;
let nc: NatsConnection;
let names: BusNames;

beforeAll(async () => {
  system = await startSystem('licexpiry', { env: { EXPIRY_WARNING_DAYS: String(WINDOW_DAYS) } });
  licensing = api(system.licensing);
  nc = await connect({ servers: NATS_URL, name: 'licensing-expiry-e2e' });
  names = busNames(system.namespace);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await system?.stop();
}, 60_000);

interface HistoryEntry {
  eventId: string;
  streamVersion: number;
  type: 'EntitlementChanged' | 'EntitlementExpiringSoon';
  change: string | null;
  at: string;
  effectiveAt: string;
  license: { serial: string; expiresAt: string | null; status: string };
  transferredFrom?: string;
  windowDays?: number;
}

const { register, grant } = driver(() => system, 'acct-expiry');

async function renew(licenseId: string, expiresAt: string): Promise<void> {
  const response = await licensing.post(`/licenses/${licenseId}/renewals`, { expiresAt });
  expect(response.status).toBe(201);
}

async function history(licenseId: string): Promise<HistoryEntry[]> {
  const response = await licensing.get<{ licenseId: string; events: HistoryEntry[] }>(`/licenses/${licenseId}/history`);
  expect(response.status).toBe(200);
  return response.body.events;
}

/** The history as short steps: the change, or `expiring-soon`. */
async function steps(licenseId: string): Promise<string[]> {
  return (await history(licenseId)).map((e) => e.change ?? 'expiring-soon');
}

/** Collects the licensing events published for one serial (a core NATS subscription on its subjects). */
class LicensingListener {
  readonly events: EventEnvelope[] = [];
  private readonly subscription: Subscription;

  private constructor(serial: string) {
    this.subscription = nc.subscribe(`${names.allSubjects('licensing').replace(/>$/, '')}v1.*.${serial}`, {
      callback: (error, msg) => {
        if (!error) this.events.push(parseEnvelope(msg.data));
      },
    });
  }

  static async on(serial: string): Promise<LicensingListener> {
    const listener = new LicensingListener(serial);
    await nc.flush();
    return listener;
  }

  changes(licenseId: string, change: string): EventEnvelope[] {
    return this.events.filter(
      (e) => e.type === 'EntitlementChanged' && e.data.change === change && e.data.license.licenseId === licenseId,
    );
  }

  close(): void {
    this.subscription.unsubscribe();
  }
}

// Licenses whose expiry was recorded in a test; the last test checks that none was recorded twice meanwhile.
const recordedExpiries: string[] = [];

describe('the expiry scheduler', () => {
  it('records an expiry once, close to its instant, and publishes it', async () => {
    const serial = await register();
    const listener = await LicensingListener.on(serial);
    try {
      const { licenseId, expiresAt } = await grant(serial, 'CAPTURE_ATP', { trial: true, expiresAt: fromNow(4_000) });

      const [expired] = await eventually(
        () => listener.changes(licenseId, 'expired').length > 0 && listener.changes(licenseId, 'expired'),
        {
          timeoutMs: 15_000,
          description: 'the expiry to be published',
        },
      );
      const lateness = Date.parse(expired!.occurredAt) - Date.parse(expiresAt);
      expect(lateness).toBeGreaterThanOrEqual(0);
      expect(lateness).toBeLessThan(EXPIRY_LATENESS_MS);
      expect(expired!.data).toEqual(
        expect.objectContaining({
          change: 'expired',
          changedAt: expiresAt,
          license: expect.objectContaining({ status: 'active', expiresAt }),
        }),
      );
      expect(await steps(licenseId)).toEqual(['granted', 'expiring-soon', 'expired']);
      expect((await licensing.get(`/licenses/${licenseId}`)).body).toEqual(expect.objectContaining({ status: 'expired' }));
      recordedExpiries.push(licenseId);
    } finally {
      listener.close();
    }
  });

  it('catches up on an expiry that passed while the service was down, once', async () => {
    const serial = await register();
    const { licenseId, expiresAt } = await grant(serial, 'IPS', { expiresAt: fromNow(4_000) });
    await eventually(async () => (await steps(licenseId)).includes('expiring-soon'), { description: 'the warning' });
    // SIGTERM: the scheduler stops with the rest, cleanly.
    expect(await system.processes.licensing.stop()).toEqual({ code: 0, signal: null });
    const stoppedAt = Date.now();
    expect(stoppedAt).toBeLessThan(Date.parse(expiresAt)); // otherwise this test proves nothing
    expect(await steps(licenseId).catch(() => 'unreachable')).toBe('unreachable');

    // The service stays down until well past the expiry.
    await eventually(() => Date.now() > Date.parse(expiresAt) + 1_000, { timeoutMs: 10_000, intervalMs: 100 });
    await system.restart('licensing');

    const entries = await eventually(
      async () => {
        const events = await history(licenseId);
        return events.some((e) => e.change === 'expired') && events;
      },
      { timeoutMs: 10_000, description: 'the missed expiry to be recorded' },
    );
    expect(entries.map((e) => e.change ?? 'expiring-soon')).toEqual(['granted', 'expiring-soon', 'expired']);
    const expired = entries.find((e) => e.change === 'expired')!;
    expect(Date.parse(expired.at)).toBeGreaterThan(stoppedAt);
    expect(expired.effectiveAt).toBe(expiresAt);
    expect(system.processes.licensing.log).toMatch(/recorded 1 expiries, 0 warnings/);
    recordedExpiries.push(licenseId);
  });

  it('warns once per expiry in the window, again after a renewal to a new date in it, and not beyond it', async () => {
    const serial = await register();
    const listener = await LicensingListener.on(serial);
    try {
      const { licenseId } = await grant(serial, 'GATEWAY_AV', { expiresAt: fromNow(10 * DAY_MS) });
      await eventually(async () => (await steps(licenseId)).includes('expiring-soon'), { description: 'the first warning' });

      const inWindow = fromNow(20 * DAY_MS);
      await renew(licenseId, inWindow);
      await eventually(async () => (await steps(licenseId)).filter((s) => s === 'expiring-soon').length === 2, {
        description: 'a warning for the renewed expiry',
      });

      await renew(licenseId, fromNow(100 * DAY_MS));
      // A later license in the window is warned about by a later scheduler round, which saw the renewal too.
      const { licenseId: marker } = await grant(serial, 'IPS', { expiresAt: fromNow(5 * DAY_MS) });
      await eventually(async () => (await steps(marker)).includes('expiring-soon'), { description: 'the marker warning' });

      expect(await steps(licenseId)).toEqual(['granted', 'expiring-soon', 'renewed', 'expiring-soon', 'renewed']);
      const warnings = (await history(licenseId)).filter((e) => e.type === 'EntitlementExpiringSoon');
      expect(warnings.map((w) => [w.license.expiresAt, w.windowDays])).toEqual([
        [expect.any(String), WINDOW_DAYS],
        [inWindow, WINDOW_DAYS],
      ]);
      // Published on the bus too, on the warning's own subject.
      await eventually(() => listener.events.filter((e) => e.type === 'EntitlementExpiringSoon').length === 3, {
        description: 'three warnings on the bus',
      });
    } finally {
      listener.close();
    }
  });
});

describe('license transfer on replacement', () => {
  it("moves the failed unit's active licenses to its successor, and a redelivery changes nothing", async () => {
    const [failed, successor, replacement] = [await register(), await register(), await register()];
    const dated = await grant(failed, 'GATEWAY_AV', { expiresAt: fromNow(365 * DAY_MS) });
    const perpetual = await grant(failed, 'SUPPORT_24X7');
    const revoked = await grant(failed, 'IPS');
    expect((await licensing.delete(`/licenses/${revoked.licenseId}`)).status).toBe(200);

    const pairId = randomUUID();
    const envelope = testEnvelope(
      sampleEvent('ProductsAssociated', {
        pairId,
        primarySerial: successor,
        secondarySerial: replacement,
        model: 'NSA 2700',
        accountId: 'acct-expiry',
        associatedAt: new Date().toISOString(),
        replaces: { pairId: randomUUID(), failedSerial: failed, replacementSerial: replacement, successorSerial: successor },
      }),
      { streamId: `pair-${pairId}`, occurredAt: new Date().toISOString() },
    );
    const js = jetstream(nc);
    await publishSignedEnvelope(js, names, envelope, developmentSigningKey('pairing'));

    const moved = await eventually(
      async () => {
        const { body } = await licensing.get<{ licenses: { licenseId: string; serial: string }[] }>(
          `/products/${successor}/licenses`,
        );
        return body.licenses.length === 2 && body.licenses;
      },
      { timeoutMs: 15_000, description: 'the licenses on the successor' },
    );
    expect(moved.map((l) => [l.licenseId, l.serial])).toEqual(
      expect.arrayContaining([
        [dated.licenseId, successor],
        [perpetual.licenseId, successor],
      ]),
    );
    const left = (await licensing.get<{ licenses: { licenseId: string }[] }>(`/products/${failed}/licenses`)).body.licenses;
    expect(left.map((l) => l.licenseId)).toEqual([revoked.licenseId]);
    const [, transferred] = await history(dated.licenseId);
    expect(transferred).toEqual(
      expect.objectContaining({
        change: 'transferred',
        transferredFrom: failed,
        license: expect.objectContaining({ serial: successor }),
      }),
    );

    // The same event delivered again (as after a lost ack): a new message id, so JetStream does not drop it.
    const again = await publishSignedEnvelope(js, names, envelope, developmentSigningKey('pairing'), randomUUID());
    const jsm = await jetstreamManager(nc);
    await eventually(
      async () => (await jsm.consumers.info(names.stream('pairing'), 'licensing')).ack_floor.stream_seq >= again.seq,
      {
        description: 'licensing to acknowledge the redelivery',
      },
    );
    expect(await steps(dated.licenseId)).toEqual(['granted', 'transferred']);
    expect(await steps(perpetual.licenseId)).toEqual(['granted', 'transferred']);
    expect(await steps(revoked.licenseId)).toEqual(['granted', 'revoked']);
  });
});

describe('the license history', () => {
  it('answers 404 LICENSE_NOT_FOUND for a license that does not exist', async () => {
    const response = await licensing.get(`/licenses/${randomUUID()}/history`);

    expect({ status: response.status, code: response.body?.code }).toEqual({ status: 404, code: 'LICENSE_NOT_FOUND' });
  });
});

describe('after all of the above', () => {
  it('recorded no expiry twice', async () => {
    expect(recordedExpiries).toHaveLength(2);
    for (const licenseId of recordedExpiries) {
      expect((await steps(licenseId)).filter((s) => s === 'expired')).toEqual(['expired']);
    }
  });
});
