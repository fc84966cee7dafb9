/**
 * Child processes the benchmark starts: the three services (their compiled `dist/` entry points, as in
 * production) and the benchmark's own consumers (raw, naive). Each gets a clean environment plus its own
 * variables, its output is kept for failure messages, and every child still running when the benchmark
 * exits is killed.
 */
import { BENCH_OPERATOR_KEY } from './http.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { NATS_URL, PG, REPO_ROOT, RUN_ID } from './config.js';
import { BENCH_STREAM_MAX_BYTES } from './infra.js';
import { sleep } from './stats.js';

export type ServiceName = 'pairing' | 'licensing' | 'sync-agent';

const PORT_VARIABLE: Record<ServiceName, string> = {
  pairing: 'PAIRING_PORT',
  licensing: 'LICENSING_PORT',
  'sync-agent': 'SYNC_AGENT_PORT',
};

/** Variables that configure the services; removed from the inherited environment so only ours apply. */
const SERVICE_VARIABLES = [
  'NODE_OPTIONS',
  'HTTP_HOST',
  'HTTP_PORT',
  'DATABASE_URL',
  'PGHOST',
  'PGPORT',
  'PGUSER',
  'PGPASSWORD',
  'PGDATABASE',
  'DB_SCHEMA',
  'NATS_URL',
  'BUS_NAMESPACE',
  'LOG_FORMAT',
  'OPERATOR_API_KEY',
  'RATE_LIMIT_PER_MINUTE',
  'RATE_LIMIT_BURST',
  'FAILED_AUTH_PER_MINUTE',
  'STREAM_MAX_BYTES',
  'API_KEY_CACHE_SECONDS',
  ...Object.values(PORT_VARIABLE),
];

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A running child process with its captured output. */
export class BenchProcess {
  private output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private static readonly running = new Set<BenchProcess>();
  static {
    process.once('exit', () => {
      for (const p of BenchProcess.running) p.child.kill('SIGKILL');
    });
  }

  /** Where the whole output is kept: bench/logs/<run>/<label>-<pid>.log (git-ignored). */
  readonly logFile: string;
  private readonly file: WriteStream;

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    const dir = join(REPO_ROOT, 'bench', 'logs', RUN_ID);
    mkdirSync(dir, { recursive: true });
    this.logFile = join(dir, `${label.replace(/[^a-z0-9-]+/gi, '_')}-${child.pid}.log`);
    this.file = createWriteStream(this.logFile);
    const capture = (chunk: Buffer) => {
      this.file.write(chunk);
      this.output += chunk.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    child.stdout!.on('data', capture);
    child.stderr!.on('data', capture);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.file.end());
    BenchProcess.running.add(this);
    void this.exited.then(() => BenchProcess.running.delete(this));
  }

  /** Starts `node [nodeArgs] script` with the inherited environment minus service variables, plus `env`. */
  static start(label: string, script: string, env: Record<string, string>, nodeArgs: readonly string[] = []): BenchProcess {
    if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`);
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([name, value]) => value !== undefined && !SERVICE_VARIABLES.includes(name)),
    ) as Record<string, string>;
    const child = spawn(process.execPath, [...nodeArgs, script], {
      cwd: REPO_ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new BenchProcess(label, child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get log(): string {
    return this.output;
  }

  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

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
    [PORT_VARIABLE[service]]: String(port),
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
  const script = join(REPO_ROOT, 'dist', 'apps', service, 'src', 'main.js');
  const child = BenchProcess.start(service, script, serviceEnv(service, port, options.schema, options.namespace), [
    '--enable-source-maps',
    ...(options.nodeArgs ?? []),
  ]);
  const running = { name: service, url: `http://127.0.0.1:${port}`, schema: options.schema, process: child };
  if (!options.noWait) await waitUntilHealthy(running);
  return running;
}

/** Polls GET /health until 200; fails at once if the process exits, or after `timeoutMs`. */
export async function waitUntilHealthy(service: RunningService, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.process.hasExited) throw new Error(`${service.name} exited during start-up:\n${service.process.log}`);
    try {
      const response = await fetch(`${service.url}/health`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${service.name} not healthy within ${timeoutMs} ms:\n${service.process.log}`);
    await sleep(100);
  }
}
