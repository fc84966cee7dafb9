/**
 * Failover readiness end to end: provenance of effective sets, "as of" queries and the change history of a
 * Secondary through a whole story, and the readiness report of pairs, driven over HTTP against the three
 * real services (run `npm run build` first).
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { busNames, parseEnvelope, type EffectiveLicenseSetV1, type EventEnvelope, type EventSource } from '#shared/contracts';
import { streamMessages } from '#shared/testing';
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

/** How long the sync agent may take to reflect a change; generous, as other suites share the machine. */
const SYNC_TIMEOUT_MS = 20_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;
let nc: NatsConnection;
let jsm: JetStreamManager;

const { register, grant, associate } = driver(() => system, 'acct-failover');

beforeAll(async () => {
  system = await startSystem('failover');
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
  nc = await connect({ servers: NATS_URL, name: 'failover-e2e' });
  jsm = await jetstreamManager(nc);
}, 90_000);

afterAll(async () => {
  await nc?.close();
  await system?.stop();
}, 60_000);

// ---- driving the system -------------------------------------------------------------------------------

interface License {
  licenseId: string;
  expiresAt: string | null;
}

async function renew(licenseId: string, expiresAt: string): Promise<License> {
  const response = await licensing.post<License>(`/licenses/${licenseId}/renewals`, { expiresAt });
  expect(response.status).toBe(201);
  return response.body;
}

async function dissociate(pairId: string): Promise<void> {
  expect((await pairing.delete(`/pairs/${pairId}`)).status).toBe(200);
}

/** Polls the current effective set until `check` stops throwing; returns the set it accepted. */
async function settled(
  serial: string,
  description: string,
  check: (set: EffectiveLicenseSetV1) => void,
): Promise<EffectiveLicenseSetV1> {
  return eventually(
    async () => {
      const response = await syncAgent.get<EffectiveLicenseSetV1>(`/products/${serial}/effective-licenses`);
      expect(response.status).toBe(200);
      check(response.body);
      return response.body;
    },
    { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 100, description },
  );
}

/** GET /products/:serial/effective-licenses/history */
interface HistoryPage {
  serial: string;
  items: {
    version: number;
    at: string;
    cause: { type: string; eventId: string };
    added: string[];
    removed: string[];
    changed: string[];
  }[];
  nextAfter: number | null;
}

/** GET /pairs/:pairId/failover-readiness */
interface ReadinessReport {
  pairId: string;
  primarySerial: string;
  secondarySerial: string;
  ready: boolean;
  checkedAt: string;
  statefulSync: { enabled: boolean; reason: string | null };
  gaps: { code: string; severity: 'blocking' | 'warning'; sku?: string; detail: string }[];
}

const entryOf = (set: EffectiveLicenseSetV1, sku: string) => set.licenses.find((l) => l.sku === sku);

/** The events a service has published on its stream (as subscribers see them), oldest first. */
async function published(source: EventSource): Promise<EventEnvelope[]> {
  const messages = await streamMessages(jsm, busNames(system.namespace).stream(source));
  return messages.map((m) => parseEnvelope(m.data));
}

/** The id of the one event on `source` matched by `match`. */
async function eventIdOf(source: EventSource, match: (e: EventEnvelope) => boolean): Promise<string> {
  const matching = (await published(source)).filter(match);
  expect(matching).toHaveLength(1);
  return matching[0]!.eventId;
}

const licenseEvent = (licenseId: string, change: string) => (e: EventEnvelope) =>
  e.type === 'EntitlementChanged' && e.data.license.licenseId === licenseId && e.data.change === change;
const pairEvent = (type: 'ProductsAssociated' | 'ProductsDissociated', pairId: string) => (e: EventEnvelope) =>
  e.type === type && e.data.pairId === pairId;

/** Waits a little so that the next instant taken is strictly later than every event so far (ms precision). */
async function tick(): Promise<Date> {
  const start = Date.now();
  await eventually(() => Date.now() > start + 2, { timeoutMs: 1_000, intervalMs: 1, description: 'the clock to move' });
  return new Date();
}

// ---- the story: grant, associate, renew, dissociate, renew while dissociated, re-associate ---------------

/** A moment of the story: the instant after the step was projected, and the two sets at that instant. */
interface Moment {
  readonly at: string;
  readonly primary: EffectiveLicenseSetV1;
  readonly secondary: EffectiveLicenseSetV1;
}

describe('a Secondary through associations, renewals and a dissociation', () => {
  const account = `acct-story-${randomUUID().slice(0, 8)}`;
  let primary: string;
  let secondary: string;
  let beforeRegistration: string;
  let license: License;
  let pair1: string;
  let pair2: string;
  const moments: Record<
    'registered' | 'granted' | 'associated' | 'renewed' | 'dissociated' | 'renewedWhileDissociated' | 'reassociated',
    Moment
  > = {} as never;

  /** Records the sets once `secondaryCheck` and `primaryCheck` hold, then the instant after them. */
  async function moment(
    name: keyof typeof moments,
    secondaryCheck: (set: EffectiveLicenseSetV1) => void,
    primaryCheck: (set: EffectiveLicenseSetV1) => void = () => undefined,
  ): Promise<void> {
    await settled(secondary, `the Secondary ${name}`, secondaryCheck);
    await settled(primary, `the Primary ${name}`, primaryCheck);
    // Both checks hold, so the step is projected: read both sets again, as they stand from now on.
    const [p, s] = await Promise.all([
      settled(primary, 'the Primary', () => undefined),
      settled(secondary, 'the Secondary', () => undefined),
    ]);
    moments[name] = { at: (await tick()).toISOString(), primary: p, secondary: s };
    await tick();
  }

  beforeAll(async () => {
    beforeRegistration = (await tick()).toISOString();
    await tick();
    primary = await register({ accountId: account });
    secondary = await register({ accountId: account });
    await moment(
      'registered',
      (s) => expect(s).toEqual(expect.objectContaining({ role: 'standalone', licenses: [] })),
      (p) => expect(p.licenses).toEqual([]),
    );

    license = await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(365 * DAY_MS) });
    await moment(
      'granted',
      (s) => expect(s.licenses).toEqual([]),
      (p) => expect(entryOf(p, 'GATEWAY_AV')?.expiresAt).toBe(license.expiresAt),
    );

    pair1 = await associate(primary, secondary);
    await moment('associated', (s) => {
      expect(s).toEqual(expect.objectContaining({ role: 'secondary', pairId: pair1 }));
      expect(entryOf(s, 'GATEWAY_AV')?.expiresAt).toBe(license.expiresAt);
    });

    const renewed = await renew(license.licenseId, fromNow(400 * DAY_MS));
    await moment('renewed', (s) => expect(entryOf(s, 'GATEWAY_AV')?.expiresAt).toBe(renewed.expiresAt));

    await dissociate(pair1);
    await moment('dissociated', (s) => expect(s).toEqual(expect.objectContaining({ role: 'standalone', licenses: [] })));

    const renewedAgain = await renew(license.licenseId, fromNow(500 * DAY_MS));
    await moment(
      'renewedWhileDissociated',
      (s) => expect(s).toEqual(expect.objectContaining({ role: 'standalone', licenses: [] })),
      (p) => expect(entryOf(p, 'GATEWAY_AV')?.expiresAt).toBe(renewedAgain.expiresAt),
    );

    pair2 = await associate(primary, secondary);
    await moment('reassociated', (s) => {
      expect(s).toEqual(expect.objectContaining({ role: 'secondary', pairId: pair2 }));
      expect(entryOf(s, 'GATEWAY_AV')?.expiresAt).toBe(renewedAgain.expiresAt);
    });
  }, 120_000);

  describe('provenance', () => {
    it('names the license’s latest event as published on the bus, for the Primary’s own entry', async () => {
      const granted = await eventIdOf('licensing', licenseEvent(license.licenseId, 'granted'));
      expect(entryOf(moments.granted.primary, 'GATEWAY_AV')?.sources).toEqual([
        { from: 'own', serial: primary, licenseId: license.licenseId, expiresAt: license.expiresAt, eventIds: [granted] },
      ]);
    });

    it('names the license’s latest event and the pair’s association on the Secondary, and changes them on renewal', async () => {
      const [granted, renewals, associated1, associated2] = await Promise.all([
        eventIdOf('licensing', licenseEvent(license.licenseId, 'granted')),
        published('licensing').then((events) => events.filter(licenseEvent(license.licenseId, 'renewed')).map((e) => e.eventId)),
        eventIdOf('pairing', pairEvent('ProductsAssociated', pair1)),
        eventIdOf('pairing', pairEvent('ProductsAssociated', pair2)),
      ]);
      expect(renewals).toHaveLength(2);
      for (const id of [granted, ...renewals, associated1, associated2]) expect(id).toMatch(UUID);

      const sourceAt = (m: Moment) => entryOf(m.secondary, 'GATEWAY_AV')!.sources;
      expect(sourceAt(moments.associated)).toEqual([
        expect.objectContaining({
          from: 'primary',
          serial: primary,
          licenseId: license.licenseId,
          eventIds: [granted, associated1],
        }),
      ]);
      expect(sourceAt(moments.renewed)).toEqual([expect.objectContaining({ eventIds: [renewals[0], associated1] })]);
      expect(sourceAt(moments.reassociated)).toEqual([expect.objectContaining({ eventIds: [renewals[1], associated2] })]);
    });
  });

  describe('"as of"', () => {
    const asOf = (serial: string, at: string) =>
      syncAgent.get<EffectiveLicenseSetV1>(`/products/${serial}/effective-licenses?at=${encodeURIComponent(at)}`);

    it.each([
      'registered',
      'granted',
      'associated',
      'renewed',
      'dissociated',
      'renewedWhileDissociated',
      'reassociated',
    ] as const)('answers what both sets were once %s', async (name) => {
      const { at, primary: p, secondary: s } = moments[name];
      const [forSecondary, forPrimary] = await Promise.all([asOf(secondary, at), asOf(primary, at)]);
      expect({ status: forSecondary.status, body: forSecondary.body }).toEqual({ status: 200, body: s });
      expect({ status: forPrimary.status, body: forPrimary.body }).toEqual({ status: 200, body: p });
    });

    it('shares the licenses before the dissociation and not after it; a renewal while dissociated arrives with the re-association', async () => {
      const expiry = async (at: string) => entryOf((await asOf(secondary, at)).body, 'GATEWAY_AV')?.expiresAt;
      expect(await expiry(moments.renewed.at)).toBe(entryOf(moments.renewed.primary, 'GATEWAY_AV')!.expiresAt);
      expect(await expiry(moments.dissociated.at)).toBeUndefined();
      expect(await expiry(moments.renewedWhileDissociated.at)).toBeUndefined();
      expect(await expiry(moments.reassociated.at)).toBe(
        entryOf(moments.renewedWhileDissociated.primary, 'GATEWAY_AV')!.expiresAt,
      );
    });

    it('reads an instant given with any offset', async () => {
      const utc = new Date(moments.associated.at);
      const plusTwo = new Date(utc.getTime() + 2 * 3600_000).toISOString().replace('Z', '+02:00');
      const response = await asOf(secondary, plusTwo);
      expect({ status: response.status, body: response.body }).toEqual({ status: 200, body: moments.associated.secondary });
    });

    it('answers 404 PRODUCT_NOT_FOUND before the product was registered', async () => {
      const response = await asOf(secondary, beforeRegistration);
      expect(response.status).toBe(404);
      expect(response.body).toEqual(expect.objectContaining({ code: 'PRODUCT_NOT_FOUND' }));
    });

    it.each([
      { what: 'not an instant', at: 'yesterday' },
      { what: 'without an offset', at: '2025-01-01T00:00:00' },
      { what: 'empty', at: '' },
      { what: 'in the future', at: fromNow(3600_000) },
    ])('answers 400 VALIDATION_FAILED for an instant $what', async ({ at }) => {
      const response = await asOf(secondary, at);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.body).toEqual(
        expect.objectContaining({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ field: 'at' })] }),
      );
    });
  });

  describe('history', () => {
    const history = (serial: string, query = '') =>
      syncAgent.get<HistoryPage>(`/products/${serial}/effective-licenses/history${query}`);

    it('lists every change of the Secondary’s set with its cause, oldest first', async () => {
      const [associated1, dissociated1, associated2, renewal] = await Promise.all([
        eventIdOf('pairing', pairEvent('ProductsAssociated', pair1)),
        eventIdOf('pairing', pairEvent('ProductsDissociated', pair1)),
        eventIdOf('pairing', pairEvent('ProductsAssociated', pair2)),
        published('licensing').then((events) => events.filter(licenseEvent(license.licenseId, 'renewed'))[0]!.eventId),
      ]);
      const response = await history(secondary);

      expect(response.status).toBe(200);
      expect(response.body.serial).toBe(secondary);
      expect(response.body.nextAfter).toBeNull();
      // The grant on the standalone Primary and the renewal while dissociated did not change the Secondary's set.
      expect(response.body.items).toEqual([
        {
          version: 1,
          at: expect.any(String),
          cause: expect.objectContaining({ type: 'ProductRegistered' }),
          actor: 'bootstrap-operator',
          added: [],
          removed: [],
          changed: [],
        },
        {
          version: 2,
          at: expect.any(String),
          cause: { type: 'ProductsAssociated', eventId: associated1 },
          actor: 'bootstrap-operator',
          added: ['GATEWAY_AV'],
          removed: [],
          changed: [],
        },
        {
          version: 3,
          at: expect.any(String),
          cause: { type: 'EntitlementChanged', eventId: renewal },
          actor: 'bootstrap-operator',
          added: [],
          removed: [],
          changed: ['GATEWAY_AV'],
        },
        {
          version: 4,
          at: expect.any(String),
          cause: { type: 'ProductsDissociated', eventId: dissociated1 },
          actor: 'bootstrap-operator',
          added: [],
          removed: ['GATEWAY_AV'],
          changed: [],
        },
        {
          version: 5,
          at: expect.any(String),
          cause: { type: 'ProductsAssociated', eventId: associated2 },
          actor: 'bootstrap-operator',
          added: ['GATEWAY_AV'],
          removed: [],
          changed: [],
        },
      ]);
      const times = response.body.items.map((i) => Date.parse(i.at));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(times[1]).toBeLessThanOrEqual(Date.parse(moments.associated.at));
      expect(times[4]).toBeGreaterThan(Date.parse(moments.renewedWhileDissociated.at));
    });

    it('pages through the changes with a small limit', async () => {
      const all = (await history(secondary)).body.items;
      const pages: HistoryPage[] = [];
      let after: number | null = 0;
      while (after !== null) {
        const page: HistoryPage = (await history(secondary, `?limit=2&after=${after}`)).body;
        pages.push(page);
        after = page.nextAfter;
      }
      expect(pages.map((p) => p.items.map((i) => i.version))).toEqual([[1, 2], [3, 4], [5]]);
      expect(pages.map((p) => p.nextAfter)).toEqual([2, 4, null]);
      expect(pages.flatMap((p) => p.items)).toEqual(all);
    });

    it.each(['?limit=0', '?limit=501', '?limit=x', '?after=-1'])('answers 400 VALIDATION_FAILED for %s', async (query) => {
      const response = await history(secondary, query);
      expect(response.status).toBe(400);
      expect(response.body).toEqual(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    });

    it('answers 404 PRODUCT_NOT_FOUND for a product the sync agent does not know', async () => {
      const response = await history(randomSerial());
      expect(response.status).toBe(404);
      expect(response.body).toEqual(expect.objectContaining({ code: 'PRODUCT_NOT_FOUND' }));
    });
  });
});

// ---- failover readiness --------------------------------------------------------------------------------

describe('failover readiness', () => {
  const account = `acct-ready-${randomUUID().slice(0, 8)}`;
  const readiness = (pairId: string) => syncAgent.get<ReadinessReport>(`/pairs/${pairId}/failover-readiness`);

  /** Polls the readiness report of a pair until `check` stops throwing; returns the report it accepted. */
  async function reportOnceItHolds(
    pairId: string,
    description: string,
    check: (report: ReadinessReport) => void,
  ): Promise<ReadinessReport> {
    return eventually(
      async () => {
        const response = await readiness(pairId);
        expect(response.status).toBe(200);
        check(response.body);
        return response.body;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 100, description },
    );
  }

  let healthy: { primary: string; secondary: string; pairId: string };
  let ended: { primary: string; secondary: string; pairId: string };

  beforeAll(async () => {
    const primary = await register({ accountId: account });
    const secondary = await register({ accountId: account });
    await grant(primary, 'SONICOS_ENHANCED');
    await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(365 * DAY_MS) });
    healthy = { primary, secondary, pairId: await associate(primary, secondary) };

    const primary2 = await register({ accountId: account });
    const secondary2 = await register({ accountId: account });
    await grant(primary2, 'SONICOS_ENHANCED');
    await grant(primary2, 'GATEWAY_AV', { expiresAt: fromNow(365 * DAY_MS) });
    ended = { primary: primary2, secondary: secondary2, pairId: await associate(primary2, secondary2) };
  });

  it('reports a healthy pair sharing its licenses as ready, once the sync agent has caught up', async () => {
    const report = await reportOnceItHolds(healthy.pairId, 'the pair to be ready', (r) => expect(r.ready).toBe(true));
    expect(report).toEqual({
      pairId: healthy.pairId,
      primarySerial: healthy.primary,
      secondarySerial: healthy.secondary,
      ready: true,
      checkedAt: expect.any(String),
      statefulSync: { enabled: false, reason: 'NOT_LICENSED' },
      gaps: [],
    });
    expect(Math.abs(Date.parse(report.checkedAt) - Date.now())).toBeLessThan(60_000);
    const secondarySet = (await syncAgent.get<EffectiveLicenseSetV1>(`/products/${healthy.secondary}/effective-licenses`)).body;
    expect(secondarySet.licenses.map((l) => l.sku)).toEqual(['GATEWAY_AV', 'SONICOS_ENHANCED']);
  });

  it('warns about a shared license expiring within the window, without blocking', async () => {
    const ips = await grant(healthy.primary, 'IPS', { expiresAt: fromNow(10 * DAY_MS) });
    const report = await reportOnceItHolds(healthy.pairId, 'the expiry warning', (r) =>
      expect(r.gaps).toEqual([expect.objectContaining({ code: 'EXPIRING_SOON', sku: 'IPS' })]),
    );
    expect(report.ready).toBe(true);
    expect(report.gaps[0]).toEqual({
      code: 'EXPIRING_SOON',
      severity: 'warning',
      sku: 'IPS',
      detail: expect.stringContaining(ips.expiresAt),
    });
    expect(report.gaps[0]!.detail).toContain('IPS');
  });

  it('reports the pair’s stateful sync as it turns on', async () => {
    await grant(healthy.primary, 'STATEFUL_SYNC');
    await reportOnceItHolds(healthy.pairId, 'stateful sync on', (r) =>
      expect(r.statefulSync).toEqual({ enabled: true, reason: null }),
    );
  });

  it('reports PAIR_NOT_ACTIVE, blocking, once the pair is dissociated', async () => {
    await reportOnceItHolds(ended.pairId, 'the second pair to be ready', (r) => expect(r.ready).toBe(true));
    await dissociate(ended.pairId);
    const report = await reportOnceItHolds(ended.pairId, 'the dissociation', (r) =>
      expect(r.gaps.map((g) => g.code)).toContain('PAIR_NOT_ACTIVE'),
    );
    expect(report).toEqual(
      expect.objectContaining({
        ready: false,
        statefulSync: { enabled: false, reason: 'NOT_PAIRED' },
        gaps: [expect.objectContaining({ code: 'PAIR_NOT_ACTIVE', severity: 'blocking', detail: expect.any(String) })],
      }),
    );
  });

  it('lists the associated pairs of an account for operators', async () => {
    await reportOnceItHolds(ended.pairId, 'the dissociation', (r) => expect(r.ready).toBe(false));
    await eventually(
      async () => {
        const response = await syncAgent.get(`/pairs/readiness?accountId=${encodeURIComponent(account)}`);
        expect(response.status).toBe(200);
        expect(response.body).toEqual({
          accountId: account,
          checkedAt: expect.any(String),
          pairs: [
            expect.objectContaining({ pairId: healthy.pairId, primarySerial: healthy.primary, accountId: account, ready: true }),
          ],
          nextCursor: null,
        });
        return true;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 100, description: 'the account list' },
    );

    const nobody = await syncAgent.get(`/pairs/readiness?accountId=acct-nobody-${randomUUID()}`);
    expect({ status: nobody.status, pairs: nobody.body.pairs }).toEqual({ status: 200, pairs: [] });
  });

  it('answers every account for an operator without an accountId, and 400 for a bad filter (the route is not taken for a pair id)', async () => {
    const all = await syncAgent.get('/pairs/readiness?limit=200');
    expect(all.status).toBe(200);
    expect(all.body.accountId).toBeNull();
    const response = await syncAgent.get('/pairs/readiness?ready=maybe');
    expect(response.status).toBe(400);
    expect(response.body).toEqual(
      expect.objectContaining({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ field: 'ready' })] }),
    );
  });

  it('answers 404 PAIR_NOT_FOUND for an unknown pair and 400 for a malformed pair id', async () => {
    const unknown = await readiness(randomUUID());
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(expect.objectContaining({ code: 'PAIR_NOT_FOUND' }));
    const malformed = await readiness('readiness');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});
