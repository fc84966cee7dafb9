/**
 * What one benchmark run measures and how big: `BENCH_SCALE=small` is a smoke run of a few minutes,
 * `full` (the default) runs the counts the targets are set at. Everything runs on loopback against the local
 * PostgreSQL and NATS, in the benchmark's own database and bus namespaces.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export type Scale = 'small' | 'full';

export interface BenchConfig {
  readonly scale: Scale;
  /** Events in the backlog that raw, naive and ours each consume from the start. */
  readonly backlogEvents: number;
  /** Products registered in the backlog; half are Primaries, half their Secondaries. */
  readonly backlogProducts: number;
  /**
   * Time caps: a consumer still busy then is stopped and rated on what it consumed (the report says so).
   * `BENCH_MAX_SECONDS` overrides the caps of ours and the rebuild, e.g. to wait for a whole 1 M rebuild.
   */
  readonly naiveMaxSeconds: number;
  readonly oursMaxSeconds: number;
  readonly profileMaxSeconds: number;
  readonly rebuildMaxSeconds: number;
  /** Events a cold sync agent rebuilds its projection from (the backlog grown to this size). */
  readonly rebuildEvents: number;
  /** RSS marks for "memory flat": sampled when the rebuilding agent has consumed this many events. */
  readonly memoryMarks: readonly [number, number];
  /** Events appended straight into an events table for the relay measurement. */
  readonly relayEvents: number;
  /** Licenses bulk-loaded for the query measurement, and how many GETs to time. */
  readonly queryLicenses: number;
  readonly queryRequests: number;
  /** HA pairs registered over HTTP before the API and propagation measurements. */
  readonly apiPairs: number;
  readonly apiSeconds: number;
  readonly apiConcurrency: number;
  /**
   * Offered grants/s: 50/s is a light-load reference; 500/s is where CPU per grant and propagation are judged,
   * 1,000/s where propagation must still keep up.
   */
  readonly propagationRates: readonly number[];
  readonly propagationSeconds: number;
  readonly propagationRepeats: number;
  /** Seconds the started system is measured with no traffic at all (its poll loops and timers). */
  readonly idleSeconds: number;
}

const SCALES: Record<Scale, BenchConfig> = {
  small: {
    scale: 'small',
    backlogEvents: 20_000,
    backlogProducts: 2_000,
    naiveMaxSeconds: 30,
    oursMaxSeconds: 300,
    profileMaxSeconds: 60,
    rebuildMaxSeconds: 300,
    rebuildEvents: 40_000,
    memoryMarks: [10_000, 40_000],
    relayEvents: 20_000,
    queryLicenses: 100_000,
    queryRequests: 500,
    apiPairs: 2_000,
    apiSeconds: 5,
    apiConcurrency: 16,
    propagationRates: [50, 500, 1000],
    propagationSeconds: 3,
    propagationRepeats: 3,
    idleSeconds: 30,
  },
  full: {
    scale: 'full',
    backlogEvents: 200_000,
    backlogProducts: 10_000,
    naiveMaxSeconds: 180,
    oursMaxSeconds: 900,
    profileMaxSeconds: 60,
    rebuildMaxSeconds: 720,
    rebuildEvents: 1_000_000,
    memoryMarks: [100_000, 1_000_000],
    relayEvents: 200_000,
    queryLicenses: 1_000_000,
    queryRequests: 2_000,
    apiPairs: 2_000,
    apiSeconds: 15,
    apiConcurrency: 16,
    propagationRates: [50, 500, 1000],
    propagationSeconds: 10,
    propagationRepeats: 3,
    idleSeconds: 30,
  },
};

export function benchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const scale = (env.BENCH_SCALE ?? 'full').toLowerCase();
  if (scale !== 'small' && scale !== 'full') throw new Error(`BENCH_SCALE must be small or full (got ${scale})`);
  const maxSeconds = Number(env.BENCH_MAX_SECONDS);
  if (!env.BENCH_MAX_SECONDS) return SCALES[scale];
  if (!(maxSeconds > 0)) throw new Error(`BENCH_MAX_SECONDS must be a positive number (got ${env.BENCH_MAX_SECONDS})`);
  return { ...SCALES[scale], oursMaxSeconds: maxSeconds, rebuildMaxSeconds: maxSeconds };
}

/** The repository root (this file is dist/bench/support/config.js once compiled). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';

/** The benchmark's own database, so nothing it loads is mixed with tests or a running deployment. */
export const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  password: process.env.PGPASSWORD,
  database: process.env.BENCH_DATABASE ?? 'ha_bench',
} as const;

/** One id per run; every namespace and schema of the run starts with `bench_<id>`. */
export const RUN_ID = randomBytes(3).toString('hex');

/** A namespace (also a schema prefix) for one part of the run: `bench_<run>_<part>`. */
export function namespaceFor(part: string): string {
  return `bench_${RUN_ID}_${part}`;
}
