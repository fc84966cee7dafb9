import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { busNames, parseEnvelope, type EffectiveLicenseSetV1, type EventEnvelope } from '#shared/contracts';
import {
  DAY_MS,
  NATS_URL,
  api,
  eventually,
  fromNow,
  randomSerial,
  startSystem,
  type Api,
  type ApiResponse,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(60_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Provenance of an own license: its latest event. */
const OWN_EVENT_IDS = [expect.stringMatching(UUID)];
/** Provenance of a Primary's license: its latest event, then the pair's association. */
const SHARED_EVENT_IDS = [expect.stringMatching(UUID), expect.stringMatching(UUID)];

/** How long the sync agent may take to reflect a change (it consumes from JetStream asynchronously). */
const SYNC_TIMEOUT_MS = 15_000;

type EffectiveLicensesChanged = EventEnvelope & { type: 'EffectiveLicensesChanged' };

let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;
let nc: NatsConnection;

beforeAll(async () => {
  system = await startSystem('sync');
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
  nc = await connect({ servers: NATS_URL, name: 'sync-e2e' });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await system?.stop();
}, 60_000);

// ---- driving the system -------------------------------------------------------------------------------

const { register, grant, associate } = driver(() => system, 'acct-sync');

async function effective(serial: string): Promise<ApiResponse<EffectiveLicenseSetV1>> {
  return syncAgent.get(`/products/${serial}/effective-licenses`);
}

/** Polls the effective set until `check` stops throwing; returns the set it accepted. */
async function effectiveSetOnceItHolds(
  serial: string,
  description: string,
  check: (set: EffectiveLicenseSetV1) => void,
  timeoutMs = SYNC_TIMEOUT_MS,
): Promise<EffectiveLicenseSetV1> {
  return eventually(
    async () => {
      const response = await effective(serial);
      expect(response.status).toBe(200);
      check(response.body);
      return response.body;
    },
    { timeoutMs, intervalMs: 100, description },
  );
}

const skus = (set: EffectiveLicenseSetV1) => set.licenses.map((l) => l.sku);
const licenseOf = (set: EffectiveLicenseSetV1, sku: string) => set.licenses.find((l) => l.sku === sku);

/** Two registered units of one model, paired, with the Secondary already seen as such by the sync agent. */
async function pairedUnits(
  model = 'NSA 2700',
  firmwareVersion = '7.0.1',
): Promise<{ primary: string; secondary: string; pairId: string }> {
  const primary = await register({ model, firmwareVersion });
  const secondary = await register({ model, firmwareVersion });
  const pairId = await associate(primary, secondary);
  await effectiveSetOnceItHolds(secondary, 'the Secondary to be seen as paired', (set) => {
    expect(set).toEqual(expect.objectContaining({ role: 'secondary', peerSerial: primary, pairId }));
  });
  return { primary, secondary, pairId };
}

// ---- listening to the bus -----------------------------------------------------------------------------

/** Collects the EffectiveLicensesChanged events published for one serial (core NATS subscription on its subject). */
class ChangeListener {
  readonly events: EffectiveLicensesChanged[] = [];
  readonly subject: string;
  private readonly subscription: Subscription;

  constructor(serial: string) {
    this.subject = busNames(system.namespace).subjectsOfType('EffectiveLicensesChanged').replace(/\*$/, serial);
    this.subscription = nc.subscribe(this.subject, {
      callback: (error, msg) => {
        if (error) return;
        this.events.push(parseEnvelope(msg.data) as EffectiveLicensesChanged);
      },
    });
  }

  /** Round-trips to the server so the subscription is registered before the test acts. */
  static async on(serial: string): Promise<ChangeListener> {
    const listener = new ChangeListener(serial);
    await nc.flush();
    return listener;
  }

  /** Waits for an event accepted by `check` (which asserts); returns it. */
  async next(description: string, check: (event: EffectiveLicensesChanged) => void): Promise<EffectiveLicensesChanged> {
    return eventually(
      () => {
        for (const event of this.events) {
          try {
            check(event);
            return event;
          } catch {
            // not this one
          }
        }
        throw new Error(`no matching event among ${this.events.length}: ${JSON.stringify(this.events.map((e) => e.data))}`);
      },
      { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 50, description },
    );
  }

  close(): void {
    this.subscription.unsubscribe();
  }
}

// ---- the scenarios ------------------------------------------------------------------------------------

describe('the sync agent', () => {
  it('answers GET /health with 200 once ready', async () => {
    const response = await syncAgent.get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual(expect.objectContaining({ service: 'sync-agent', status: 'ok' }));
  });

  it('answers 404 PRODUCT_NOT_FOUND (problem+json) for a product it has not seen', async () => {
    const response = await effective(randomSerial());

    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toEqual(expect.objectContaining({ status: 404, code: 'PRODUCT_NOT_FOUND' }));
  });
});

describe('a standalone product', () => {
  it('has its own licenses only, and stateful sync is off with NOT_PAIRED', async () => {
    const serial = await register({ model: 'NSA 2700', firmwareVersion: '7.0.1' });
    const own = await grant(serial, 'STATEFUL_SYNC');
    await grant(serial, 'GATEWAY_AV', { expiresAt: fromNow(30 * DAY_MS) });

    const set = await effectiveSetOnceItHolds(serial, 'the standalone set to hold both licenses', (s) => {
      expect(skus(s)).toEqual(['GATEWAY_AV', 'STATEFUL_SYNC']);
    });

    expect(set).toEqual(expect.objectContaining({ serial, role: 'standalone', peerSerial: null, pairId: null }));
    expect(set.statefulSync).toEqual({ enabled: false, reason: 'NOT_PAIRED' });
    expect(licenseOf(set, 'STATEFUL_SYNC')!.sources).toEqual([
      { from: 'own', serial, licenseId: own.licenseId, expiresAt: null, eventIds: OWN_EVENT_IDS },
    ]);
  });
});

describe('sharing the Primary’s licenses with its Secondary', () => {
  it('gives a Secondary associated AFTER the grants every shareable license, naming the Primary’s serial and license id', async () => {
    const primary = await register();
    const secondary = await register();
    const os = await grant(primary, 'SONICOS_ENHANCED');
    const av = await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(365 * DAY_MS) });
    await grant(primary, 'GMS_PREVENTIVE_MAINTENANCE', { expiresAt: fromNow(365 * DAY_MS) });
    await effectiveSetOnceItHolds(primary, 'the Primary to hold its three licenses', (s) => expect(s.licenses).toHaveLength(3));

    const pairId = await associate(primary, secondary);

    const set = await effectiveSetOnceItHolds(secondary, 'the Secondary to receive the shared licenses', (s) => {
      expect(s.role).toBe('secondary');
      expect(skus(s)).toEqual(['GATEWAY_AV', 'SONICOS_ENHANCED']);
    });
    expect(set).toEqual({
      serial: secondary,
      role: 'secondary',
      peerSerial: primary,
      pairId,
      licenses: [
        {
          sku: 'GATEWAY_AV',
          category: 'security-service',
          trial: false,
          expiresAt: av.expiresAt,
          expiringSoon: false,
          sources: [
            { from: 'primary', serial: primary, licenseId: av.licenseId, expiresAt: av.expiresAt, eventIds: SHARED_EVENT_IDS },
          ],
        },
        {
          sku: 'SONICOS_ENHANCED',
          category: 'os',
          trial: false,
          expiresAt: null,
          expiringSoon: false,
          sources: [{ from: 'primary', serial: primary, licenseId: os.licenseId, expiresAt: null, eventIds: SHARED_EVENT_IDS }],
        },
      ],
      statefulSync: { enabled: false, reason: 'NOT_LICENSED' },
    });
    // Both shared licenses came through the same association.
    expect(new Set(set.licenses.map((l) => l.sources[0]!.eventIds[1])).size).toBe(1);
    const primarySet = (await effective(primary)).body;
    expect(primarySet).toEqual(expect.objectContaining({ role: 'primary', peerSerial: secondary, pairId }));
    expect(skus(primarySet)).toEqual(['GATEWAY_AV', 'GMS_PREVENTIVE_MAINTENANCE', 'SONICOS_ENHANCED']);
    for (const license of primarySet.licenses) expect(license.sources.map((s) => s.from)).toEqual(['own']);
  });

  it('never shares consulting (GMS_PREVENTIVE_MAINTENANCE) or STATEFUL_SYNC', async () => {
    const { primary, secondary } = await pairedUnits();
    await grant(primary, 'GMS_PREVENTIVE_MAINTENANCE', { expiresAt: fromNow(365 * DAY_MS) });
    await grant(primary, 'STATEFUL_SYNC');
    // A shareable grant made last: once it has arrived, the two before it have been applied too.
    await grant(primary, 'IPS', { expiresAt: fromNow(365 * DAY_MS) });

    const set = await effectiveSetOnceItHolds(secondary, 'the Secondary to receive IPS', (s) => expect(skus(s)).toContain('IPS'));

    expect(skus(set)).toEqual(['IPS']);
    expect(skus((await effective(primary)).body)).toEqual(['GMS_PREVENTIVE_MAINTENANCE', 'IPS', 'STATEFUL_SYNC']);
  });

  it('sends a license granted AFTER pairing to the Secondary', async () => {
    const { primary, secondary } = await pairedUnits();

    const av = await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(90 * DAY_MS) });

    const set = await effectiveSetOnceItHolds(secondary, 'the new grant to reach the Secondary', (s) =>
      expect(skus(s)).toEqual(['GATEWAY_AV']),
    );
    expect(licenseOf(set, 'GATEWAY_AV')!.sources).toEqual([
      { from: 'primary', serial: primary, licenseId: av.licenseId, expiresAt: av.expiresAt, eventIds: SHARED_EVENT_IDS },
    ]);
  });

  it('removes a revoked license from the Secondary', async () => {
    const { primary, secondary } = await pairedUnits();
    const av = await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(90 * DAY_MS) });
    await grant(primary, 'SONICOS_ENHANCED');
    await effectiveSetOnceItHolds(secondary, 'both grants to reach the Secondary', (s) =>
      expect(skus(s)).toEqual(['GATEWAY_AV', 'SONICOS_ENHANCED']),
    );

    expect((await licensing.delete(`/licenses/${av.licenseId}`)).status).toBe(200);

    await effectiveSetOnceItHolds(secondary, 'the revoked license to leave the Secondary', (s) =>
      expect(skus(s)).toEqual(['SONICOS_ENHANCED']),
    );
    await effectiveSetOnceItHolds(primary, 'the revoked license to leave the Primary', (s) =>
      expect(skus(s)).toEqual(['SONICOS_ENHANCED']),
    );
  });

  it('moves the Secondary’s expiry when the Primary’s license is renewed', async () => {
    const { primary, secondary } = await pairedUnits();
    const support = await grant(primary, 'SUPPORT_24X7', { expiresAt: fromNow(30 * DAY_MS) });
    await effectiveSetOnceItHolds(secondary, 'the license to reach the Secondary', (s) =>
      expect(licenseOf(s, 'SUPPORT_24X7')?.expiresAt).toBe(support.expiresAt),
    );
    const later = fromNow(395 * DAY_MS);

    expect((await licensing.post(`/licenses/${support.licenseId}/renewals`, { expiresAt: later })).status).toBe(201);

    const set = await effectiveSetOnceItHolds(secondary, 'the renewed expiry to reach the Secondary', (s) =>
      expect(licenseOf(s, 'SUPPORT_24X7')?.expiresAt).toBe(later),
    );
    expect(licenseOf(set, 'SUPPORT_24X7')!.sources).toEqual([
      { from: 'primary', serial: primary, licenseId: support.licenseId, expiresAt: later, eventIds: SHARED_EVENT_IDS },
    ]);
  });

  it('takes the shared licenses away on dissociation; the Secondary keeps its own, the Primary keeps all of its', async () => {
    const { primary, secondary, pairId } = await pairedUnits();
    const own = await grant(secondary, 'SUPPORT_8X5', { expiresAt: fromNow(60 * DAY_MS) });
    await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(60 * DAY_MS) });
    await grant(primary, 'SONICOS_ENHANCED');
    await effectiveSetOnceItHolds(secondary, 'own and shared licenses on the Secondary', (s) =>
      expect(skus(s)).toEqual(['GATEWAY_AV', 'SONICOS_ENHANCED', 'SUPPORT_8X5']),
    );
    // Sharing goes one way: the Secondary's own license does not reach the Primary.
    await effectiveSetOnceItHolds(primary, 'the Primary’s own licenses', (s) =>
      expect(skus(s)).toEqual(['GATEWAY_AV', 'SONICOS_ENHANCED']),
    );

    expect((await pairing.delete(`/pairs/${pairId}`)).status).toBe(200);

    const set = await effectiveSetOnceItHolds(secondary, 'the Secondary to be standalone again', (s) =>
      expect(s.role).toBe('standalone'),
    );
    expect(set).toEqual({
      serial: secondary,
      role: 'standalone',
      peerSerial: null,
      pairId: null,
      licenses: [
        {
          sku: 'SUPPORT_8X5',
          category: 'support',
          trial: false,
          expiresAt: own.expiresAt,
          expiringSoon: false,
          sources: [
            { from: 'own', serial: secondary, licenseId: own.licenseId, expiresAt: own.expiresAt, eventIds: OWN_EVENT_IDS },
          ],
        },
      ],
      statefulSync: { enabled: false, reason: 'NOT_PAIRED' },
    });
    const primarySet = await effectiveSetOnceItHolds(primary, 'the Primary to be standalone again', (s) =>
      expect(s.role).toBe('standalone'),
    );
    expect(skus(primarySet)).toEqual(['GATEWAY_AV', 'SONICOS_ENHANCED']);
  });

  it('lists both sources when the Secondary also owns a shared SKU; the perpetual one sets the expiry', async () => {
    const { primary, secondary } = await pairedUnits();
    const own = await grant(secondary, 'GATEWAY_AV', { expiresAt: fromNow(10 * DAY_MS) });
    const shared = await grant(primary, 'GATEWAY_AV');

    const set = await effectiveSetOnceItHolds(secondary, 'both sources of GATEWAY_AV', (s) =>
      expect(licenseOf(s, 'GATEWAY_AV')?.sources).toHaveLength(2),
    );

    expect(licenseOf(set, 'GATEWAY_AV')).toEqual({
      sku: 'GATEWAY_AV',
      category: 'security-service',
      trial: false,
      expiresAt: null,
      expiringSoon: false,
      sources: [
        { from: 'own', serial: secondary, licenseId: own.licenseId, expiresAt: own.expiresAt, eventIds: OWN_EVENT_IDS },
        { from: 'primary', serial: primary, licenseId: shared.licenseId, expiresAt: null, eventIds: SHARED_EVENT_IDS },
      ],
    });
  });

  it('follows a re-pairing with the roles swapped: licenses now flow the other way', async () => {
    const { primary: first, secondary: second, pairId } = await pairedUnits();
    await grant(first, 'GATEWAY_AV');
    await grant(second, 'IPS');
    await effectiveSetOnceItHolds(second, 'the first Primary’s license on the Secondary', (s) =>
      expect(skus(s)).toEqual(['GATEWAY_AV', 'IPS']),
    );
    expect((await pairing.delete(`/pairs/${pairId}`)).status).toBe(200);

    const swapped = await associate(second, first);

    const newSecondary = await effectiveSetOnceItHolds(first, 'the old Primary to be the Secondary', (s) =>
      expect(s).toEqual(expect.objectContaining({ role: 'secondary', pairId: swapped })),
    );
    expect(skus(newSecondary)).toEqual(['GATEWAY_AV', 'IPS']);
    expect(licenseOf(newSecondary, 'IPS')!.sources.map((s) => [s.from, s.serial])).toEqual([['primary', second]]);
    const newPrimary = (await effective(second)).body;
    expect(newPrimary).toEqual(expect.objectContaining({ role: 'primary', peerSerial: first, pairId: swapped }));
    expect(skus(newPrimary)).toEqual(['IPS']);
  });

  it('gives a Secondary moved to another Primary that Primary’s licenses only', async () => {
    const { primary: oldPrimary, secondary, pairId } = await pairedUnits();
    await grant(oldPrimary, 'GATEWAY_AV');
    await effectiveSetOnceItHolds(secondary, 'the old Primary’s license', (s) => expect(skus(s)).toEqual(['GATEWAY_AV']));
    const newPrimary = await register();
    await grant(newPrimary, 'CONTENT_FILTERING');
    expect((await pairing.delete(`/pairs/${pairId}`)).status).toBe(200);

    const newPairId = await associate(newPrimary, secondary);

    const set = await effectiveSetOnceItHolds(secondary, 'the new Primary’s license only', (s) => {
      expect(s.pairId).toBe(newPairId);
      expect(skus(s)).toEqual(['CONTENT_FILTERING']);
    });
    expect(set.licenses[0]!.sources).toEqual([expect.objectContaining({ from: 'primary', serial: newPrimary })]);
    expect((await effective(oldPrimary)).body).toEqual(expect.objectContaining({ role: 'standalone', peerSerial: null }));
  });

  it('applies a burst of grants made in parallel: every shareable SKU reaches the Secondary', async () => {
    const { primary, secondary } = await pairedUnits();
    const shareable = [
      'ANTI_SPYWARE',
      'APP_CONTROL',
      'CAPTURE_ATP',
      'CONTENT_FILTERING',
      'GATEWAY_AV',
      'IPS',
      'SONICOS_ENHANCED',
      'SUPPORT_24X7',
      'SUPPORT_8X5',
    ];

    await Promise.all([...shareable, 'GMS_PREVENTIVE_MAINTENANCE', 'STATEFUL_SYNC'].map((sku) => grant(primary, sku)));

    await effectiveSetOnceItHolds(secondary, 'all nine shareable SKUs on the Secondary', (s) => {
      expect(skus(s)).toEqual(shareable);
      expect(s.statefulSync).toEqual({ enabled: true, reason: null });
    });
  });

  it('brings an expired shared license back to the Secondary when it is renewed', async () => {
    const { primary, secondary } = await pairedUnits();
    const expiresAt = fromNow(2_000);
    const av = await grant(primary, 'GATEWAY_AV', { expiresAt });
    await effectiveSetOnceItHolds(
      secondary,
      'the license before it expires',
      (s) => expect(skus(s)).toEqual(['GATEWAY_AV']),
      Math.max(0, Date.parse(expiresAt) - Date.now() - 100),
    );
    await effectiveSetOnceItHolds(secondary, 'the license to expire', (s) => expect(skus(s)).toEqual([]), 10_000);
    const later = fromNow(30 * DAY_MS);

    expect((await licensing.post(`/licenses/${av.licenseId}/renewals`, { expiresAt: later })).status).toBe(201);

    const set = await effectiveSetOnceItHolds(secondary, 'the renewed license to be back', (s) =>
      expect(skus(s)).toEqual(['GATEWAY_AV']),
    );
    expect(licenseOf(set, 'GATEWAY_AV')!.expiresAt).toBe(later);
  });

  it('drops a shared TRIAL from the Secondary when it expires, with no further event', async () => {
    const { primary, secondary } = await pairedUnits();
    await grant(primary, 'SONICOS_ENHANCED');
    await effectiveSetOnceItHolds(secondary, 'the perpetual license to reach the Secondary', (s) =>
      expect(skus(s)).toEqual(['SONICOS_ENHANCED']),
    );

    const expiresAt = fromNow(5_000);
    const trial = await grant(primary, 'CAPTURE_ATP', { expiresAt, trial: true });

    const present = await effectiveSetOnceItHolds(
      secondary,
      'the trial to reach the Secondary before it expires',
      (s) => expect(skus(s)).toContain('CAPTURE_ATP'),
      Math.max(0, Date.parse(expiresAt) - Date.now() - 100),
    );
    expect(licenseOf(present, 'CAPTURE_ATP')).toEqual({
      sku: 'CAPTURE_ATP',
      category: 'security-service',
      trial: true,
      expiresAt,
      expiringSoon: true,
      sources: [{ from: 'primary', serial: primary, licenseId: trial.licenseId, expiresAt, eventIds: SHARED_EVENT_IDS }],
    });

    const after = await effectiveSetOnceItHolds(
      secondary,
      'the expired trial to leave the Secondary',
      (s) => expect(skus(s)).toEqual(['SONICOS_ENHANCED']),
      10_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(after.role).toBe('secondary');
    expect(skus((await effective(primary)).body)).toEqual(['SONICOS_ENHANCED']);
    expect((await licensing.get(`/licenses/${trial.licenseId}`)).body.status).toBe('expired');
  });
});

describe('stateful synchronization', () => {
  it('is enabled on both units when the NSA Primary holds STATEFUL_SYNC and both run firmware >= 4.0', async () => {
    const { primary, secondary } = await pairedUnits('NSA 2700', '7.0.1');

    await grant(primary, 'STATEFUL_SYNC');

    await effectiveSetOnceItHolds(secondary, 'stateful sync on the Secondary', (s) =>
      expect(s.statefulSync).toEqual({ enabled: true, reason: null }),
    );
    await effectiveSetOnceItHolds(primary, 'stateful sync on the Primary', (s) =>
      expect(s.statefulSync).toEqual({ enabled: true, reason: null }),
    );
    // The upgrade enables the pair; it is not copied to the Secondary as a license.
    expect(skus((await effective(secondary)).body)).toEqual([]);
  });

  it('turns off with FIRMWARE_TOO_OLD when one unit goes to firmware 3.9, and back on at 4.0', async () => {
    const { primary, secondary } = await pairedUnits('NSA 4700', '7.0.1');
    await grant(primary, 'STATEFUL_SYNC');
    await effectiveSetOnceItHolds(secondary, 'stateful sync on', (s) => expect(s.statefulSync.enabled).toBe(true));

    expect((await pairing.patch(`/products/${secondary}`, { firmwareVersion: '3.9' })).status).toBe(200);

    const tooOld = { enabled: false, reason: 'FIRMWARE_TOO_OLD' };
    await effectiveSetOnceItHolds(secondary, 'FIRMWARE_TOO_OLD on the Secondary', (s) => expect(s.statefulSync).toEqual(tooOld));
    await effectiveSetOnceItHolds(primary, 'FIRMWARE_TOO_OLD on the Primary', (s) => expect(s.statefulSync).toEqual(tooOld));

    expect((await pairing.patch(`/products/${secondary}`, { firmwareVersion: '4.0' })).status).toBe(200);

    await effectiveSetOnceItHolds(secondary, 'stateful sync back on the Secondary', (s) =>
      expect(s.statefulSync).toEqual({ enabled: true, reason: null }),
    );
    await effectiveSetOnceItHolds(primary, 'stateful sync back on the Primary', (s) =>
      expect(s.statefulSync).toEqual({ enabled: true, reason: null }),
    );
  });

  it('stays off with NOT_LICENSED when only the Secondary holds STATEFUL_SYNC', async () => {
    const { primary, secondary } = await pairedUnits('NSA 2700', '7.0.1');

    const own = await grant(secondary, 'STATEFUL_SYNC');

    const set = await effectiveSetOnceItHolds(secondary, 'the Secondary’s own STATEFUL_SYNC to be applied', (s) =>
      expect(skus(s)).toEqual(['STATEFUL_SYNC']),
    );
    expect(licenseOf(set, 'STATEFUL_SYNC')!.sources).toEqual([
      { from: 'own', serial: secondary, licenseId: own.licenseId, expiresAt: null, eventIds: OWN_EVENT_IDS },
    ]);
    expect(set.statefulSync).toEqual({ enabled: false, reason: 'NOT_LICENSED' });
    expect((await effective(primary)).body.statefulSync).toEqual({ enabled: false, reason: 'NOT_LICENSED' });
  });

  it('is MODEL_UNSUPPORTED on a TZ pair (and STATEFUL_SYNC cannot be granted there)', async () => {
    const { primary, secondary } = await pairedUnits('TZ 370', '7.0.1');
    const refused = await licensing.post(`/products/${primary}/licenses`, { sku: 'STATEFUL_SYNC' });
    expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 409, code: 'STATEFUL_SYNC_UNSUPPORTED' });
    await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(30 * DAY_MS) });

    const set = await effectiveSetOnceItHolds(secondary, 'the shared license on the TZ Secondary', (s) =>
      expect(skus(s)).toEqual(['GATEWAY_AV']),
    );

    expect(set.statefulSync).toEqual({ enabled: false, reason: 'MODEL_UNSUPPORTED' });
    expect((await effective(primary)).body.statefulSync).toEqual({ enabled: false, reason: 'MODEL_UNSUPPORTED' });
  });
});

describe('EffectiveLicensesChanged events', () => {
  it('are published for the Secondary with the SKUs added, changed and removed', async () => {
    const primary = await register();
    const secondary = await register();
    const listener = await ChangeListener.on(secondary);
    try {
      // Outside the expiry warning window: an EntitlementExpiringSoon would be one more change of GATEWAY_AV.
      const av = await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(90 * DAY_MS) });
      await grant(primary, 'SONICOS_ENHANCED');
      await grant(primary, 'GMS_PREVENTIVE_MAINTENANCE', { expiresAt: fromNow(30 * DAY_MS) });
      await grant(primary, 'STATEFUL_SYNC');
      await effectiveSetOnceItHolds(primary, 'the Primary to hold its four licenses', (s) => expect(s.licenses).toHaveLength(4));

      const pairId = await associate(primary, secondary);

      const associated = await listener.next('an event for the association', (e) =>
        expect(e.data.cause.type).toBe('ProductsAssociated'),
      );
      expect(associated.data.added).toEqual(['GATEWAY_AV', 'SONICOS_ENHANCED']);
      expect(associated.data.removed).toEqual([]);
      expect(associated.data.set).toEqual(
        expect.objectContaining({
          serial: secondary,
          role: 'secondary',
          peerSerial: primary,
          pairId,
          statefulSync: { enabled: true, reason: null },
        }),
      );
      expect(associated.streamId).toBe(`effective-licenses-${secondary}`);
      expect(associated.metadata.causationId).toBe(associated.data.cause.eventId);

      const later = fromNow(400 * DAY_MS);
      expect((await licensing.post(`/licenses/${av.licenseId}/renewals`, { expiresAt: later })).status).toBe(201);
      const renewed = await listener.next('an event for the renewal', (e) => expect(e.data.changed).toEqual(['GATEWAY_AV']));
      expect(renewed.data).toEqual(
        expect.objectContaining({ added: [], removed: [], cause: expect.objectContaining({ type: 'EntitlementChanged' }) }),
      );

      expect((await licensing.delete(`/licenses/${av.licenseId}`)).status).toBe(200);
      const revoked = await listener.next('an event for the revocation', (e) => expect(e.data.removed).toEqual(['GATEWAY_AV']));
      expect(revoked.data.cause.type).toBe('EntitlementChanged');

      expect((await pairing.delete(`/pairs/${pairId}`)).status).toBe(200);
      const dissociated = await listener.next('an event for the dissociation', (e) =>
        expect(e.data.cause.type).toBe('ProductsDissociated'),
      );
      expect(dissociated.data.removed).toEqual(['SONICOS_ENHANCED']);
      expect(dissociated.data.set).toEqual(
        expect.objectContaining({ role: 'standalone', licenses: [], statefulSync: { enabled: false, reason: 'NOT_PAIRED' } }),
      );

      // Every event for the Secondary was published on its own subject, in stream order.
      const versions = listener.events.map((e) => e.streamVersion);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(listener.events.map((e) => e.data.serial))).toEqual(new Set([secondary]));
    } finally {
      listener.close();
    }
  });

  it('are stored in the sync agent’s JetStream stream', async () => {
    const serial = await register();
    // Outside the expiry warning window, so that no EntitlementExpiringSoon follows the grant.
    await grant(serial, 'IPS', { expiresAt: fromNow(365 * DAY_MS) });
    await effectiveSetOnceItHolds(serial, 'the license to be applied', (s) => expect(skus(s)).toEqual(['IPS']));
    const names = busNames(system.namespace);
    const subject = names.subjectsOfType('EffectiveLicensesChanged').replace(/\*$/, serial);
    const jsm = await jetstreamManager(nc);

    const stored = await eventually(
      async () => {
        const message = await jsm.streams.getMessage(names.stream('sync-agent'), { last_by_subj: subject });
        const event = message ? (parseEnvelope(message.data) as EffectiveLicensesChanged) : null;
        expect(event?.data.set.licenses.map((l) => l.sku)).toEqual(['IPS']);
        return event!;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, description: 'the latest event of the product in the stream' },
    );

    expect(names.stream('sync-agent')).toBe(`${system.namespace.toUpperCase()}_SYNC_AGENT`);
    expect(stored.data).toEqual(expect.objectContaining({ serial, added: ['IPS'] }));
  });
});
