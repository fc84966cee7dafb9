import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  TEST_OPERATOR_KEY,
  api,
  dropSchemas,
  eventually,
  randomSerial,
  spawnPairingWithoutNats,
  startService,
  startSystem,
  type ExitStatus,
  type ManagedProcess,
  type RunningSystem,
  type ServiceName,
} from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(60_000);

/** How long a service may take to exit after SIGTERM or a bad configuration. */
const EXIT_WITHIN_MS = 5_000;

/** Waits for the process to exit by itself; kills it and fails if it does not within `ms`. */
async function exitOf(proc: ManagedProcess, ms: number): Promise<ExitStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      reject(new Error(`${proc.name} did not exit within ${ms} ms:\n${proc.log}`));
    }, ms);
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a service with a bad configuration', () => {
  it.each<[ServiceName, Record<string, string>, string]>([
    ['pairing', { PAIRING_PORT: 'abc' }, 'PAIRING_PORT'],
    ['licensing', { LICENSING_PORT: '70000' }, 'LICENSING_PORT'],
    ['sync-agent', { DB_SCHEMA: 'Not-An-Identifier' }, 'DB_SCHEMA'],
    ['pairing', { NATS_URL: 'http://127.0.0.1:4222' }, 'NATS_URL'],
    ['licensing', { BUS_NAMESPACE: 'Upper Case' }, 'BUS_NAMESPACE'],
  ])('%s with %j exits non-zero with a message naming the variable', async (service, env, variable) => {
    const proc = startService(service, {
      OPERATOR_API_KEY: TEST_OPERATOR_KEY,
      PGDATABASE: 'ha_test',
      DB_SCHEMA: 'e2e_never_created',
      ...env,
    });

    const { code } = await exitOf(proc, 15_000);

    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(proc.log).toContain(variable);
    expect(proc.log).toMatch(/invalid configuration/i);
  });
});

describe('a service whose dependencies are not reachable', () => {
  it('answers /health 503 and business endpoints 503 problem+json, and still stops cleanly on SIGTERM', async () => {
    const { proc, url, schema } = await spawnPairingWithoutNats('ops_unready');
    const pairing = api(url);
    try {
      const health = await eventually(
        async () => {
          const response = await pairing.get('/health');
          expect(response.status).toBe(503);
          expect(response.body.checks).toEqual(expect.objectContaining({ postgres: 'up', nats: 'down', started: false }));
          return response;
        },
        { timeoutMs: 20_000, intervalMs: 100, description: 'pairing to answer /health 503 with NATS down' },
      );
      expect(health.body).toEqual(expect.objectContaining({ service: 'pairing', status: 'unavailable' }));

      const refused = await pairing.post('/products', {
        serial: randomSerial(),
        model: 'NSA 2700',
        firmwareVersion: '7.0.1',
        accountId: 'a',
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toEqual(expect.objectContaining({ status: 503, code: 'SERVICE_UNAVAILABLE' }));

      proc.child.kill('SIGTERM');
      expect(await exitOf(proc, EXIT_WITHIN_MS)).toEqual({ code: 0, signal: null });
    } finally {
      await proc.stop(1_000);
      await dropSchemas([schema]);
    }
  });
});

describe('a running system', () => {
  let system: RunningSystem;
  const story = driver(() => system, 'acct-ops');

  beforeAll(async () => {
    system = await startSystem('ops');
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it('answers /health 200 on every service', async () => {
    for (const url of [system.pairing, system.licensing, system.syncAgent]) {
      const response = await api(url).get('/health');
      expect(response.status).toBe(200);
      expect(response.body).toEqual(
        expect.objectContaining({ status: 'ok', checks: { postgres: 'up', nats: 'up', started: true } }),
      );
    }
  });

  it('answers /metrics in the Prometheus text format, counting what the services did', async () => {
    const syncAgent = api(system.syncAgent);
    const serial = await story.register();
    await story.grant(serial, 'IPS');
    await eventually(
      async () => {
        const response = await syncAgent.get<{ licenses?: { sku: string }[] }>(`/products/${serial}/effective-licenses`);
        expect(response.body.licenses?.map((l) => l.sku)).toEqual(['IPS']);
        return true;
      },
      { timeoutMs: 15_000, description: 'the license to reach the sync agent' },
    );

    const scrape = async (url: string) => {
      const response = await api(url).get('/metrics');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(typeof response.body).toBe('string');
      return response.body as string;
    };
    const value = (text: string, metric: string, labels: Record<string, string>): number => {
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`${metric}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
      if (line === undefined) throw new Error(`no ${metric} ${JSON.stringify(labels)} in:\n${text}`);
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    };

    for (const [service, url] of [
      ['pairing', system.pairing],
      ['licensing', system.licensing],
      ['sync-agent', system.syncAgent],
    ] as const) {
      const text = await scrape(url);
      expect(text).toMatch(/^# HELP ha_license_sync_service_ready /m);
      expect(text).toMatch(/^# TYPE ha_license_sync_service_ready gauge$/m);
      expect(value(text, 'ha_license_sync_service_ready', { service })).toBe(1);
      expect(text).toMatch(/^process_cpu_user_seconds_total\{[^}]*\} \d/m);
    }
    await eventually(
      async () => {
        expect(
          value(await scrape(system.pairing), 'ha_license_sync_outbox_events_published_total', { service: 'pairing' }),
        ).toBeGreaterThanOrEqual(1);
        expect(
          value(await scrape(system.licensing), 'ha_license_sync_outbox_events_published_total', { service: 'licensing' }),
        ).toBeGreaterThanOrEqual(1);
        expect(
          value(await scrape(system.syncAgent), 'ha_license_sync_consumer_events_total', {
            service: 'sync-agent',
            outcome: 'applied',
          }),
        ).toBeGreaterThanOrEqual(2);
        return true;
      },
      { timeoutMs: 10_000, description: 'the counters to show the published and consumed events' },
    );
  });

  it('keeps the sync agent’s state across a restart and applies what happened while it was down', async () => {
    const licensing = api(system.licensing);
    const syncAgent = api(system.syncAgent);
    const { primary, secondary } = await story.pair();
    await story.grant(primary, 'GATEWAY_AV');
    const skusOfSecondary = async () => {
      const response = await syncAgent.get(`/products/${secondary}/effective-licenses`);
      expect(response.status).toBe(200);
      return (response.body.licenses as { sku: string }[]).map((l) => l.sku);
    };
    await eventually(async () => (expect(await skusOfSecondary()).toEqual(['GATEWAY_AV']), true), {
      timeoutMs: 15_000,
      description: 'the shared license before the restart',
    });

    const stopped = system.processes['sync-agent'];
    const restarting = system.restart('sync-agent');
    await stopped.exited;
    // Granted while the sync agent is down (or starting): it must be applied once it is back.
    expect((await licensing.post(`/products/${primary}/licenses`, { sku: 'IPS' })).status).toBe(201);
    await restarting;

    await eventually(async () => (expect(await skusOfSecondary()).toEqual(['GATEWAY_AV', 'IPS']), true), {
      timeoutMs: 15_000,
      description: 'the license granted during the restart to reach the Secondary',
    });
  });

  it('stops every service on SIGTERM with exit code 0 within a few seconds', async () => {
    const exits = await Promise.all(
      Object.values(system.processes).map(async (proc) => {
        const started = Date.now();
        proc.child.kill('SIGTERM');
        const exit = await exitOf(proc, EXIT_WITHIN_MS);
        return {
          service: proc.name,
          ...exit,
          fast: Date.now() - started < EXIT_WITHIN_MS,
          log: exit.code === 0 ? '' : proc.log,
        };
      }),
    );

    expect(exits).toEqual(
      Object.values(system.processes).map((proc) => ({ service: proc.name, code: 0, signal: null, fast: true, log: '' })),
    );
  });
});
