/**
 * `npm run bench`: the benchmark, on loopback against the local PostgreSQL and NATS, in its own
 * database (`ha_bench`), schemas and bus namespaces, all removed at the end.
 *
 *   BENCH_SCALE=small npm run bench   # a few minutes, small counts (a smoke run)
 *   npm run bench                     # full: 200 k backlog, 1 M rebuild and query, 10 s propagation runs
 *
 * BENCH_ONLY=raw,raw-verified,naive,ours,profile,relay,rebuild,query,e2e runs a subset (`api` instead of `e2e`:
 * the API's write ceiling without the propagation runs); BENCH_PROFILE=0 skips the profiled run of the sync agent;
 * BENCH_CPU_PROF=licensing,pairing,sync-agent runs those services of the e2e/api phase under `node --cpu-prof`;
 * BENCH_KEEP=1 keeps the data; BENCH_COMMIT labels the code measured (default: git).
 * Prints progress, then a Markdown report, and writes bench/results.json.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { busNames } from '#shared/contracts';
import { measureApi } from './api.js';
import { measureIdle } from './idle.js';
import { publishBacklog, type Backlog } from './backlog.js';
import { measureNaive } from './naive.js';
import { measureOurs, profileOurs } from './ours.js';
import { measurePropagation } from './propagation.js';
import { measureQuery } from './query.js';
import { measureRaw } from './raw.js';
import { measureRebuild } from './rebuild.js';
import { measureRelay } from './relay.js';
import { buildResults, markdownReport, type Measurements, type Meta } from './report.js';
import { benchConfig, namespaceFor, REPO_ROOT, RUN_ID } from './support/config.js';
import type { BenchContext } from './support/context.js';
import { factsFingerprint } from './support/consistency.js';
import { benchDatabase, connectNats, deleteRunStreams, dropRunSchemas, ensureSourceStreams } from './support/infra.js';
import { PropagationWatcher, startSystem } from './support/system.js';
import { round } from './support/stats.js';

const config = benchConfig();
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const wanted = (phase: string) => !only || only.includes(phase);
const startedAt = Date.now();
// Read now, not when the report is written: `npm run bench` built dist/ from the tree as it is at the start.
const commit = gitCommit();
const log = (line: string) => console.log(`[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${line}`);

const loadBefore = os.loadavg().map((v) => round(v, 2));
let loadMax = loadBefore[0]!;
const loadSampler = setInterval(() => (loadMax = Math.max(loadMax, round(os.loadavg()[0]!, 2))), 5_000);

const db = await benchDatabase();
const nc = await connectNats();
// JetStream API requests (consumer info every 200 ms while a consumer runs, purges, deletes) get 30 s, not the
// client's 5 s: on a loaded machine with a 1 M-message stream a single slow answer failed a whole phase.
const ctx: BenchContext = { config, db, nc, js: jetstream(nc), jsm: await jetstreamManager(nc, { timeout: 30_000 }), log };
const measurements: Measurements = {};
const errors: Record<string, string> = {};

/** Runs one measurement; a failure is recorded and the others still run. */
async function phase<T>(name: string, work: () => Promise<T>): Promise<T | undefined> {
  if (!wanted(name)) return undefined;
  log(`── ${name}`);
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    errors[name] = message.slice(0, 4_000);
    log(`${name} FAILED: ${message.slice(0, 2_000)}`);
    return undefined;
  }
}

let cleaned = false;
async function cleanUp(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  clearInterval(loadSampler);
  if (process.env.BENCH_KEEP === '1') {
    log(`kept schemas and streams of run ${RUN_ID} (BENCH_KEEP=1)`);
  } else {
    const streams = await deleteRunStreams(nc).catch((e: Error) => [`(failed: ${e.message})`]);
    const schemas = await dropRunSchemas(db).catch((e: Error) => [`(failed: ${e.message})`]);
    log(`cleaned up ${streams.length} streams and ${schemas.length} schemas of run ${RUN_ID}`);
  }
  await nc.close().catch(() => undefined);
  await db.end().catch(() => undefined);
}
process.once('SIGINT', () => {
  log('interrupted: cleaning up');
  void cleanUp().finally(() => process.exit(130));
});

log(`benchmark run ${RUN_ID}: scale ${config.scale}, ${os.cpus().length} cores, load average ${loadBefore.join(' ')}`);
try {
  const needsBacklog = ['raw', 'raw-verified', 'naive', 'ours', 'profile', 'rebuild'].some(wanted);
  let backlog: Backlog | undefined;
  if (needsBacklog) {
    backlog = await phase('backlog', async () => {
      const namespace = namespaceFor('backlog');
      await ensureSourceStreams(ctx.jsm, busNames(namespace));
      const started = performance.now();
      const made = await publishBacklog(ctx.js, namespace, config.backlogProducts, config.backlogEvents, log);
      measurements.backlog = {
        events: made.total(),
        pairing: made.pairingEvents,
        licensing: made.licensingEvents,
        products: config.backlogProducts,
        publishSeconds: round((performance.now() - started) / 1000, 1),
      };
      return made;
    });
  }
  if (backlog) {
    const b = backlog;
    measurements.raw = await phase('raw', () => measureRaw(ctx, b));
    measurements.rawVerified = await phase('raw-verified', () => measureRaw(ctx, b, true));
    measurements.naive = await phase('naive', () => measureNaive(ctx, b));
    measurements.ours = await phase('ours', () => measureOurs(ctx, b));
    if (process.env.BENCH_PROFILE !== '0')
      measurements.profiled = await phase('profile', () => profileOurs(ctx, b, measurements.ours));
    measurements.consistency = await phase('consistency', () =>
      factsFingerprint(db, {
        raw: measurements.raw && namespaceFor('raw'),
        naive: measurements.naive && !measurements.naive.capped ? namespaceFor('naive') : undefined,
        ours: measurements.ours && !measurements.ours.capped ? namespaceFor('ours') : undefined,
      }),
    );
  }
  measurements.relay = await phase('relay', () => measureRelay(ctx));
  if (backlog) {
    const b = backlog;
    measurements.rebuild = await phase('rebuild', () => measureRebuild(ctx, b));
  }
  measurements.query = await phase('query', () => measureQuery(ctx));
  // `e2e` measures the idle system, propagation at each offered rate, then the API's own ceiling; `api` the first and last.
  const e2e = wanted('e2e') ? 'e2e' : 'api';
  if (wanted(e2e)) {
    // The earlier phases' streams are done with. Each reserves BENCH_STREAM_MAX_BYTES of JetStream's storage, and
    // with the e2e system's own they exceeded the server's limit (60 GB here: "insufficient storage resources").
    const deleted = await deleteRunStreams(nc);
    if (deleted.length > 0) log(`deleted the ${deleted.length} streams of the earlier phases`);
  }
  await phase(e2e, async () => {
    const system = await startSystem(ctx, config.apiPairs);
    const watcher = new PropagationWatcher(nc, system);
    watcher.start();
    try {
      measurements.idle = await measureIdle(ctx, system);
      if (e2e === 'e2e') {
        measurements.propagation = [];
        for (const rate of config.propagationRates) {
          measurements.propagation.push(await measurePropagation(ctx, system, watcher, rate));
        }
      }
      measurements.api = await measureApi(ctx, system, watcher);
    } finally {
      watcher.stop();
      await system.stop();
    }
    measurements.serviceProfiles = system.cpuProfiles();
  });
} finally {
  await cleanUp();
}

const meta: Meta = {
  scale: config.scale,
  date: new Date(startedAt).toISOString(),
  nodeVersion: process.version,
  cores: os.cpus().length,
  cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
  memoryGb: round(os.totalmem() / 2 ** 30, 1),
  loadAverage: { before: loadBefore, max1m: loadMax, after: os.loadavg().map((v) => round(v, 2)) },
  commit,
  durationSeconds: Math.round((Date.now() - startedAt) / 1000),
};
const results = buildResults(meta, measurements, errors);
writeFileSync(join(REPO_ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\n${markdownReport(meta, measurements, errors)}`);
console.log(`Written: bench/results.json`);
process.exit(Object.keys(errors).length > 0 ? 1 : 0);

function gitCommit(): string {
  if (process.env.BENCH_COMMIT) return process.env.BENCH_COMMIT;
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'libs'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return dirty ? `${commit} + uncommitted changes in apps/libs` : commit;
  } catch {
    return 'unknown';
  }
}
