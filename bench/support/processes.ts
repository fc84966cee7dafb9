/**
 * Child processes the benchmark starts, through the one harness (`#shared/tools`): the three services (their
 * compiled `dist/` entry points, as in production) and the benchmark's own consumers (raw, naive). Each gets only
 * the inherited basics and the variables given here, its output is kept for failure messages and in
 * bench/logs/<run>/<label>-<pid>.log, and every child still running when the benchmark exits is killed.
 */
import { BENCH_OPERATOR_KEY } from './http.js';
import { join } from 'node:path';
import {
  ManagedProcess,
  freePort,
  portVariableOf,
  startService as startServiceProcess,
  waitUntilHealthy,
  type ServiceName,
} from '#shared/tools';
import { NATS_URL, PG, REPO_ROOT, RUN_ID } from './config.js';
import { BENCH_STREAM_MAX_BYTES } from './infra.js';

export { freePort, type ServiceName };

/** A process of the benchmark: stop() gives it 15 s after SIGTERM. */
export type BenchProcess = ManagedProcess;

/** Where each process's whole output is kept: bench/logs/<run>/<label>-<pid>.log (git-ignored). */
const LOG_DIR = join(REPO_ROOT, 'bench', 'logs', RUN_ID);

export const BenchProcess = {
  /** Starts `node [nodeArgs] script` with the inherited basics plus `env`. */
  start(label: string, script: string, env: Record<string, string>, nodeArgs: readonly string[] = []): BenchProcess {
    return ManagedProcess.start({ name: label, args: [...nodeArgs, script], env, logDir: LOG_DIR, stopGraceMs: 15_000 });
  },
};

/** PG* variables for the benchmark database. */
export function pgEnv(): Record<string, string> {
  return {
    PGHOST: PG.host,
    PGPORT: String(PG.port),
    PGUSER: PG.user,
    ...(PG.password ? { PGPASSWORD: PG.password } : {}),
    PGDATABASE: PG.database,
  };
}

/** The environment of a service in the benchmark database, under `schema` and bus `namespace`. */
export function serviceEnv(service: ServiceName, port: number, schema: string, namespace: string): Record<string, string> {
  return {
    HTTP_HOST: '127.0.0.1',
    [portVariableOf(service)]: String(port),
    ...pgEnv(),
    DB_SCHEMA: schema,
    NATS_URL,
    BUS_NAMESPACE: namespace,
    LOG_FORMAT: 'text',
    OPERATOR_API_KEY: BENCH_OPERATOR_KEY,
    // The benchmark drives one key as hard as the machine allows: the per-key limit must not be what it measures.
    RATE_LIMIT_PER_MINUTE: '100000000',
    STREAM_MAX_BYTES: String(BENCH_STREAM_MAX_BYTES),
  };
}

/** A started service: its process and base URL. */
export interface RunningService {
  readonly name: ServiceName;
  readonly url: string;
  readonly schema: string;
  readonly process: BenchProcess;
}

export interface StartServiceOptions {
  readonly namespace: string;
  readonly schema: string;
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  /** Don't wait for /health (e.g. to time the start itself). */
  readonly noWait?: boolean;
}

export async function startService(service: ServiceName, options: StartServiceOptions): Promise<RunningService> {
  const port = await freePort();
  const child = startServiceProcess(service, serviceEnv(service, port, options.schema, options.namespace), {
    nodeArgs: options.nodeArgs ?? [],
    logDir: LOG_DIR,
    stopGraceMs: 15_000,
  });
  const running = { name: service, url: `http://127.0.0.1:${port}`, schema: options.schema, process: child };
  if (!options.noWait) await waitUntilHealthy([running], { timeoutMs: 60_000 });
  return running;
}
