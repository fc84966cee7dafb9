import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { join } from 'node:path';
import pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { busNames } from '#shared/contracts';
import { TEST_DATABASE } from '#shared/testing';
import {
  DAY_MS,
  ManagedProcess,
  NATS_URL,
  REPO_ROOT,
  api,
  eventually,
  fromNow,
  startSystem,
  type Api,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';

/**
 * `npm run rebuild` against running services: the CLI rebuilds the sync agent's projection while traffic
 * flows and clients read, switches over, and nobody notices but the log.
 */

jest.setTimeout(180_000);

let system: RunningSystem;
let syncAgent: Api;
let nc: NatsConnection;
let jsm: JetStreamManager;
let db: pg.Client;

beforeAll(async () => {
  system = await startSystem('rebuild');
  syncAgent = api(system.syncAgent);
  nc = await connect({ servers: NATS_URL, name: 'rebuild-e2e' });
  jsm = await jetstreamManager(nc);
  db = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: TEST_DATABASE });
  await db.connect();
}, 60_000);

afterAll(async () => {
  if (db) {
    const { rows } = await db.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [
      `${system.schemas['sync-agent']}_`,
    ]);
    for (const { nspname } of rows) await db.query(`DROP SCHEMA ${pg.escapeIdentifier(nspname)} CASCADE`);
    await db.end();
  }
  await nc?.close();
  await system?.stop();
}, 60_000);

/** Runs the rebuild CLI with the sync agent's environment; resolves with its exit code and output. */
async function runRebuild(args: string[] = []): Promise<{ code: number | null; output: string }> {
  const child = ManagedProcess.start({
    name: 'rebuild',
    args: [join(REPO_ROOT, 'dist/apps/sync-agent/src/rebuild/main.js'), ...args],
    env: system.syncAgentEnv,
    inherit: ['PATH'],
  });
  const { code } = await child.exited;
  return { code, output: child.log };
}

const story = driver(() => system, 'acct-rebuild');

async function pairWithLicenses(accountId: string): Promise<{ primary: string; secondary: string }> {
  const { primary, secondary } = await story.pair({ accountId });
  await story.grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(365 * DAY_MS) });
  await story.grant(primary, 'IPS');
  await story.grant(secondary, 'SUPPORT_24X7', { expiresAt: fromNow(90 * DAY_MS) });
  return { primary, secondary };
}

const skusOf = async (serial: string): Promise<string[]> => {
  const response = await syncAgent.get<{ licenses: { sku: string }[] }>(`/products/${serial}/effective-licenses`);
  return response.status === 200 ? response.body.licenses.map((l) => l.sku).sort() : [];
};

/** How many events the sync agent's outbox holds, and how many of them are on its stream. */
async function announced(): Promise<{ stored: number; published: number }> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${pg.escapeIdentifier(system.schemas['sync-agent'])}.events`,
  );
  const info = await jsm.streams.info(busNames(system.namespace).stream('sync-agent'));
  return { stored: Number(rows[0]!.n), published: info.state.messages };
}

describe('npm run rebuild', () => {
  it('rejects an unknown option with a usage message and exit 2', async () => {
    const { code, output } = await runRebuild(['--bogus']);
    expect(code).toBe(2);
    expect(output).toMatch(/usage: npm run rebuild/);
  });

  it('rebuilds while traffic flows and clients read, then serves the same sets from the new tables and announces nothing again', async () => {
    // A history the sync agent has applied and announced.
    const accountId = 'acct-rebuild';
    const stable = await Promise.all(Array.from({ length: 6 }, () => pairWithLicenses(accountId)));
    const stableSerials = stable.flatMap((p) => [p.primary, p.secondary]);
    await eventually(
      async () => {
        for (const { secondary } of stable) expect(await skusOf(secondary)).toEqual(['GATEWAY_AV', 'IPS', 'SUPPORT_24X7']);
        return true;
      },
      { timeoutMs: 20_000, description: 'the Secondaries to hold their Primaries’ licenses' },
    );
    const before = Object.fromEntries(
      await Promise.all(
        stableSerials.map(async (s) => [s, (await syncAgent.get(`/products/${s}/effective-licenses`)).body] as const),
      ),
    );
    const quiet = await eventually(
      async () => {
        const counts = await announced();
        return counts.stored > 0 && counts.stored === counts.published && counts;
      },
      { timeoutMs: 20_000, description: 'the sync agent to have published everything it recorded' },
    );

    // Clients read the stable units the whole time; new pairs keep coming.
    const reads = { count: 0, failures: [] as string[] };
    let running = true;
    const reader = (async () => {
      for (let i = 0; running; i++) {
        const serial = stableSerials[i % stableSerials.length]!;
        const response = await syncAgent.get(`/products/${serial}/effective-licenses`);
        reads.count++;
        if (response.status !== 200 || JSON.stringify(response.body) !== JSON.stringify(before[serial])) {
          reads.failures.push(`${serial}: ${response.status} ${JSON.stringify(response.body)}`);
        }
      }
    })();
    const added: { primary: string; secondary: string }[] = [];
    const traffic = (async () => {
      while (running) added.push(await pairWithLicenses(accountId));
    })();

    const { code, output } = await runRebuild();
    const readsDuringRebuild = reads.count;
    const pairsDuringRebuild = added.length;
    running = false;
    await Promise.all([reader, traffic]);

    expect({ code, output }).toEqual({ code: 0, output: expect.stringMatching(/switched over/) });
    expect(output).toMatch(/rebuild: \d+ events, \d+ events\/s; .*PAIRING at \d+ of \d+ \(\d+ to go\)/);
    expect(output).toMatch(/inbox\s+\d+\s+\d+\s+\d+\s+0\n/);
    expect(output).toMatch(/old tables are kept in schema \S+_old_\d{8}_\d{6}/);
    expect(readsDuringRebuild).toBeGreaterThan(0);
    expect(pairsDuringRebuild).toBeGreaterThan(0);
    expect(reads.failures).toEqual([]);

    // The new tables serve the same sets, and the traffic of the rebuild's time reached them.
    for (const serial of stableSerials)
      expect((await syncAgent.get(`/products/${serial}/effective-licenses`)).body).toEqual(before[serial]);
    await eventually(
      async () => {
        for (const { secondary } of added) expect(await skusOf(secondary)).toEqual(['GATEWAY_AV', 'IPS', 'SUPPORT_24X7']);
        return true;
      },
      { timeoutMs: 30_000, description: 'the pairs made during the rebuild to be projected' },
    );

    // Nothing announced again: every message the sync agent published since concerns a unit of the new traffic.
    const after = await eventually(
      async () => {
        const counts = await announced();
        return counts.stored === counts.published && counts;
      },
      { timeoutMs: 20_000, description: 'the sync agent to publish what it recorded' },
    );
    const stream = busNames(system.namespace).stream('sync-agent');
    const newSerials = new Set(added.flatMap((p) => [p.primary, p.secondary]));
    const { state } = await jsm.streams.info(stream);
    const concerned: string[] = [];
    for (let seq = state.last_seq - (after.published - quiet.published) + 1; seq <= state.last_seq; seq++) {
      const data = (await jsm.streams.getMessage(stream, { seq }))!.json<{
        data: { serial?: string; secondarySerial?: string };
      }>().data;
      concerned.push(data.serial ?? data.secondarySerial ?? '?');
    }
    expect(concerned.filter((s) => !newSerials.has(s))).toEqual([]);
  });

  it('drops the old tables with --drop-old', async () => {
    const schemasBefore = await db.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [
      `${system.schemas['sync-agent']}_`,
    ]);
    const { code, output } = await runRebuild(['--drop-old']);
    expect({ code, output }).toEqual({ code: 0, output: expect.stringMatching(/dropped the old tables/) });
    const schemasAfter = await db.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [
      `${system.schemas['sync-agent']}_`,
    ]);
    expect(schemasAfter.rows).toEqual(schemasBefore.rows);
  });
});
