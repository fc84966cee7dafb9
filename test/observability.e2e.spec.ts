/**
 * What an operator sees of a running system: every metric the dashboard and the alert rules read is on /metrics,
 * the new series move with traffic, each request leaves one access log line (JSON here, as in the containers) that
 * holds no secret, start-up is one banner per service, and the probes tell "up" from "ready".
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import {
  TEST_OPERATOR_KEY,
  api,
  dropSchemas,
  eventually,
  randomSerial,
  spawnPairingWithoutNats,
  startSystem,
  type RunningSystem,
  type ServiceName,
} from './support/system.js';
import { busNames } from '#shared/contracts';
import { METRIC_PREFIX } from '#shared';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { alertRules, dashboardQueries, declaredMetrics, isExposed, metricNamesIn } from './support/promql.js';

jest.setTimeout(90_000);

/** Series Prometheus makes itself rather than scraping them. */
const PROMETHEUS_OWN = new Set(['up']);

/** The JSON log records a service printed (its other output, if any, is skipped). */
function jsonRecords(log: string): Record<string, unknown>[] {
  return log.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** The value of the first sample of `metric` whose labels include `labels`, or undefined. */
function sample(text: string, metric: string, labels: Record<string, string> = {}): number | undefined {
  const line = text
    .split('\n')
    .find(
      (l) =>
        (l.startsWith(`${metric}{`) || l.startsWith(`${metric} `)) &&
        Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a running system', () => {
  let system: RunningSystem;
  const scrape = async (service: ServiceName): Promise<string> => {
    const response = await api(system.urlOf(service)).get<string>('/metrics');
    expect(response.status).toBe(200);
    return response.body;
  };

  beforeAll(async () => {
    system = await startSystem('obs', { env: { LOG_FORMAT: 'json' } });
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it('starts quietly: no route mapping lines, one ready banner per service with its URL', () => {
    for (const service of ['pairing', 'licensing', 'sync-agent'] as const) {
      const log = system.processes[service].log;
      expect(log).not.toMatch(/Mapped \{|RoutesResolver|InstanceLoader/);
      const banners = jsonRecords(log).filter((r) => /ready on http/.test(String(r.message)));
      expect(banners).toEqual([
        expect.objectContaining({
          level: 'log',
          context: service,
          message: expect.stringContaining(`${service} ready on ${system.urlOf(service)} (liveness`) as unknown,
        }),
      ]);
    }
  });

  it('writes one access line per request with the route pattern, status, time, correlation id and key id, and no secret', async () => {
    const serial = randomSerial();
    const correlationId = `obs-${randomBytes(6).toString('hex')}`;
    const bodyMarker = `acct-${randomBytes(6).toString('hex')}`;
    const wrongKey = `hlsk_${randomBytes(32).toString('base64url')}`;
    const pairing = api(system.pairing);

    const created = await pairing.request(
      'POST',
      '/products',
      { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: bodyMarker },
      { 'x-correlation-id': correlationId },
    );
    expect(created.status).toBe(201);
    expect((await api(system.pairing, wrongKey).get(`/products/${serial}`)).status).toBe(401);
    expect((await api(system.pairing, null).get('/livez')).status).toBe(200);

    const records = await eventually(
      () => {
        const access = jsonRecords(system.processes.pairing.log).filter((r) => typeof r.route === 'string');
        const post = access.find((r) => r.correlationId === correlationId);
        const refused = access.find((r) => r.route === '/products/:serial' && r.status === 401);
        return post && refused && { post, refused };
      },
      { timeoutMs: 10_000, description: 'the access lines of both requests' },
    );
    expect(records.post).toEqual({
      level: 'log',
      pid: expect.any(Number),
      timestamp: expect.any(Number),
      context: 'pairing',
      message: expect.stringMatching(/^POST \/products 201 \d+(\.\d)? ms$/) as unknown,
      method: 'POST',
      route: '/products',
      status: 201,
      durationMs: expect.any(Number),
      correlationId,
      apiKeyId: 'bootstrap-operator',
    });
    expect(records.refused).toEqual(
      expect.objectContaining({ method: 'GET', route: '/products/:serial', status: 401, apiKeyId: null, correlationId: null }),
    );
    // The probe is logged at debug only (LOG_LEVEL=log here), so /livez leaves no line.
    expect(jsonRecords(system.processes.pairing.log).some((r) => r.route === '/livez')).toBe(false);

    const logs = system.logs();
    expect(logs).not.toContain(TEST_OPERATOR_KEY);
    expect(logs).not.toContain(wrongKey);
    expect(logs).not.toContain(bodyMarker);
    expect(logs).not.toMatch(/authorization/i);
  });

  it('counts requests by route pattern and times batches, propagation, backlog and pending as traffic flows', async () => {
    const serial = randomSerial();
    expect(
      (await api(system.pairing).post('/products', { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'obs' }))
        .status,
    ).toBe(201);
    expect((await api(system.licensing).post(`/products/${serial}/licenses`, { sku: 'IPS' })).status).toBe(201);
    await eventually(
      async () => {
        const response = await api(system.syncAgent).get<{ licenses?: { sku: string }[] }>(
          `/products/${serial}/effective-licenses`,
        );
        return response.body.licenses?.some((l) => l.sku === 'IPS') === true;
      },
      { timeoutMs: 15_000, description: 'the license at the sync agent' },
    );

    const pairing = await scrape('pairing');
    expect(
      sample(pairing, 'ha_license_sync_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/products',
        status_class: '2xx',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(pairing, 'ha_license_sync_outbox_relay_leader')).toBe(1);

    await eventually(
      async () => {
        const agent = await scrape('sync-agent');
        expect(sample(agent, 'ha_license_sync_propagation_seconds_count', { type: 'EntitlementChanged' })).toBeGreaterThanOrEqual(
          1,
        );
        expect(
          sample(agent, 'ha_license_sync_consumer_batch_duration_seconds_count', { consumer: 'sync-agent' }),
        ).toBeGreaterThanOrEqual(1);
        expect(sample(agent, 'ha_license_sync_consumer_batch_events_sum', { consumer: 'sync-agent' })).toBeGreaterThanOrEqual(2);
        for (const source of ['pairing', 'licensing'] as const)
          expect(
            sample(agent, 'ha_license_sync_consumer_pending_messages', {
              stream: busNames(system.namespace).stream(source),
              durable: 'sync-agent',
            }),
          ).toBe(0);
        expect(sample(await scrape('licensing'), 'ha_license_sync_outbox_backlog_events')).toBe(0);
        return true;
      },
      { timeoutMs: 15_000, description: 'the consumer and relay series to show the traffic, caught up' },
    );
  });

  it('exposes every metric the dashboard and the alert rules read (histogram _bucket/_sum/_count understood)', async () => {
    const declared = new Map<string, string>();
    for (const service of ['pairing', 'licensing', 'sync-agent'] as const)
      for (const [name, type] of declaredMetrics(await scrape(service))) declared.set(name, type);

    const used = [
      ...dashboardQueries().map(({ panel, expr }) => ({ where: `dashboard panel "${panel}"`, expr })),
      ...alertRules().map(({ alert, expr }) => ({ where: `alert ${alert}`, expr })),
    ].flatMap(({ where, expr }) => metricNamesIn(expr).map((name) => ({ where, name })));
    expect(used.length).toBeGreaterThan(40);

    const missing = used.filter(({ name }) => !PROMETHEUS_OWN.has(name) && !isExposed(name, declared));
    expect(missing.map(({ where, name }) => `${where}: ${name}`)).toEqual([]);
  });

  it('names every application metric it exposes ha_license_sync_*, leaving only the default process metrics unprefixed', async () => {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const standard = new Set((await defaults.getMetricsAsJSON()).map((m) => m.name));
    for (const service of ['pairing', 'licensing', 'sync-agent'] as const) {
      const unprefixed = [...declaredMetrics(await scrape(service)).keys()].filter(
        (name) => !name.startsWith(METRIC_PREFIX) && !standard.has(name),
      );
      expect({ service, unprefixed }).toEqual({ service, unprefixed: [] });
    }
  });
});

describe('a service whose NATS is not reachable', () => {
  it('is live (/livez 200) but not ready (/readyz and /health 503), and says where NATS is expected and how to start it', async () => {
    const { proc, url, schema, natsUrl } = await spawnPairingWithoutNats('obs_nonats');
    const pairing = api(url, null);
    try {
      await eventually(
        async () => {
          const ready = await pairing.get('/readyz');
          expect(ready.status).toBe(503);
          expect(ready.body).toEqual(
            expect.objectContaining({
              service: 'pairing',
              status: 'unavailable',
              checks: { postgres: 'up', nats: 'down', started: false },
            }),
          );
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 100, description: 'pairing to answer /readyz 503 with NATS down' },
      );
      expect((await pairing.get('/health')).status).toBe(503);
      const live = await pairing.get('/livez');
      expect(live).toEqual(expect.objectContaining({ status: 200, body: { service: 'pairing', status: 'ok' } }));

      await eventually(() => /waiting for NATS at nats:\/\/127\.0\.0\.1:\d+/.test(proc.log), {
        timeoutMs: 10_000,
        description: 'the waiting message',
      });
      const waiting = proc.log.split('\n').find((line) => line.includes('waiting for NATS at'))!;
      expect(waiting).toContain(natsUrl);
      expect(waiting).toContain('`nats-server -js`');
      expect(proc.log).not.toMatch(/ready on http/);
    } finally {
      await proc.stop(5_000);
      await dropSchemas([schema]);
    }
  });
});
