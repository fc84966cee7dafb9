/**
 * End-to-end harness: the three services as separate child processes (the compiled `dist/` output, as in
 * production), each on a free port, its own PostgreSQL schema in the test database and one bus namespace
 * shared by the three, so a test file's system sees nothing of another's. Run `npm run build` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { busNames, type EventSource } from '#shared/contracts';
import { TEST_DATABASE, eventually } from '#shared/testing';
import { loadEventKeyRing, type EventSigningKey } from '#shared';

export { eventually };

/**
 * The repository root: this file is test/support/system.ts, or dist/test/support/system.js when a compiled
 * script (the chaos harness) uses it.
 */
const TWO_UP = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
export const REPO_ROOT = basename(TWO_UP) === 'dist' && !existsSync(join(TWO_UP, 'package.json')) ? dirname(TWO_UP) : TWO_UP;

export const NATS_URL = 'nats://127.0.0.1:4222';

/**
 * The bootstrap operator key every test system starts with (OPERATOR_API_KEY), and that `api()` sends unless
 * told otherwise. Random per test process, like a real key.
 */
export const TEST_OPERATOR_KEY = `hlsk_${randomBytes(32).toString('base64url')}`;

export type ServiceName = EventSource;

/** What each service is called on disk and which variable sets its port. */
export const SERVICES: readonly { readonly name: ServiceName; readonly portVariable: string }[] = [
  { name: 'pairing', portVariable: 'PAIRING_PORT' },
  { name: 'licensing', portVariable: 'LICENSING_PORT' },
  { name: 'sync-agent', portVariable: 'SYNC_AGENT_PORT' },
];

/** The compiled entry point of a service. */
export function entryPointOf(service: ServiceName): string {
  const path = join(REPO_ROOT, 'dist', 'apps', service, 'src', 'main.js');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` before the end-to-end tests`);
  return path;
}

/**
 * The development signing key the services of this checkout use for `source`'s events (they run with the
 * repository root as working directory and no EVENT_KEYS_DIR), made if missing: what a test needs to publish an
 * event the services accept as that producer's.
 */
export function developmentSigningKey(source: ServiceName): EventSigningKey {
  const dir = join(REPO_ROOT, '.local', 'event-signing-keys');
  return loadEventKeyRing({ dir, configured: false, signingKeyId: undefined, production: false }, source).signing;
}

/** A free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
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

/** A label as a lower-case identifier fragment (a-z, 0-9, _), kept short. */
function labelPart(label: string, max = 16): string {
  return (
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, max) || 'x'
  );
}

/** A unique bus namespace `e2e_<label>_<random8>` (a-z, 0-9, _). */
export function uniqueNamespace(label: string): string {
  return `e2e_${labelPart(label)}_${randomBytes(4).toString('hex')}`;
}

/**
 * The schema of one service of a namespace. Short on purpose: the event store's NOTIFY channel is
 * `<schema>_events`, and PostgreSQL rejects channel names of 64 bytes or more.
 */
export function schemaOf(namespace: string, service: ServiceName): string {
  return `${namespace}_${service.replace('-', '_')}`;
}

/**
 * One running service process with its captured output. The environment is the parent's minus anything
 * that configures these services or jest's VM flags, plus `env`.
 */
export class ServiceProcess {
  private output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly service: ServiceName,
    readonly child: ChildProcess,
  ) {
    const capture = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    child.stdout!.on('data', capture);
    child.stderr!.on('data', capture);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    ServiceProcess.running.add(this);
    void this.exited.then(() => ServiceProcess.running.delete(this));
  }

  /** Every process still running, so that a crashed test run does not leave services behind. */
  private static readonly running = new Set<ServiceProcess>();
  static {
    process.once('exit', () => {
      for (const p of ServiceProcess.running) p.child.kill('SIGKILL');
    });
  }

  static spawn(service: ServiceName, env: Record<string, string>): ServiceProcess {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) =>
          ![
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
            'LOG_LEVEL',
            'OPERATOR_API_KEY',
            'RATE_LIMIT_PER_MINUTE',
            'RATE_LIMIT_BURST',
            'FAILED_AUTH_PER_MINUTE',
            'TRUST_PROXY',
            'HTTP_HEADERS_TIMEOUT_SECONDS',
            'HTTP_REQUEST_TIMEOUT_SECONDS',
            'STREAM_MAX_BYTES',
            'API_KEY_CACHE_SECONDS',
            'NATS_USER',
            'NATS_PASSWORD',
            'NATS_TLS_CA_FILE',
            'NATS_TLS_CERT_FILE',
            'NATS_TLS_KEY_FILE',
            'NATS_INBOX_PREFIX',
            'EVENT_KEYS_DIR',
            'EVENT_SIGNING_KEY_ID',
            'PAIRING_URL',
            'LICENSING_URL',
            ...SERVICES.map((s) => s.portVariable),
          ].includes(name),
      ),
    ) as Record<string, string>;
    const child = spawn(process.execPath, ['--enable-source-maps', entryPointOf(service)], {
      cwd: REPO_ROOT,
      // Every service knows the test operator key unless the test says otherwise (blank = unset).
      env: { ...base, OPERATOR_API_KEY: TEST_OPERATOR_KEY, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServiceProcess(service, child);
  }

  get log(): string {
    return this.output;
  }

  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with how it exited. */
  async terminate(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.hasExited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }
}

/**
 * A response body as the tests see it: whatever JSON the service sent, asserted on with expect(). Typed
 * `any` on purpose, as checking it is the test's job.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** The body of a response: parsed JSON when the response says it is JSON, else the text. */
export interface ApiResponse<T = Json> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export interface Api {
  request<T = Json>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  get<T = Json>(path: string): Promise<ApiResponse<T>>;
  post<T = Json>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  patch<T = Json>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  delete<T = Json>(path: string): Promise<ApiResponse<T>>;
}

/**
 * JSON over HTTP to one service; never throws on an error status (tests assert it). Sends
 * `Authorization: Bearer <apiKey>` (the test operator key unless another key, or null for none, is given).
 */
export function api(baseUrl: string, apiKey: string | null = TEST_OPERATOR_KEY): Api {
  async function request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(apiKey === null ? {} : { authorization: `Bearer ${apiKey}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = /json/i.test(response.headers.get('content-type') ?? '');
    let parsed: unknown = text;
    if (isJson && text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  }
  return {
    request,
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body ?? {}),
    patch: (path, body) => request('PATCH', path, body ?? {}),
    delete: (path) => request('DELETE', path),
  };
}

/** GET /health status, or 0 while the port does not answer. */
async function healthStatus(baseUrl: string): Promise<number> {
  try {
    const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

export interface RunningSystem {
  readonly pairing: string;
  readonly licensing: string;
  readonly syncAgent: string;
  readonly namespace: string;
  readonly schemas: Readonly<Record<ServiceName, string>>;
  readonly processes: Readonly<Record<ServiceName, ServiceProcess>>;
  /** Every sync-agent instance (the first is `syncAgent`), with `syncAgentInstances` > 1: same schema and namespace. */
  readonly syncAgents: readonly { readonly url: string; readonly process: ServiceProcess }[];
  /** The environment the sync agent runs with (e.g. for a CLI of the sync agent against the same data). */
  readonly syncAgentEnv: Readonly<Record<string, string>>;
  /** Captured output of the three processes, for failure messages. */
  logs(): string;
  /** Stops one service (SIGTERM) and starts it again with the same port, schema and namespace; waits for /health 200. */
  restart(service: ServiceName): Promise<void>;
  /** The base URL of a service. */
  urlOf(service: ServiceName): string;
  /**
   * Stops one service with `signal` (SIGTERM: SIGKILL after `graceMs` if it lingers; SIGKILL: at once) and resolves
   * with how it exited. Its output stays in logs().
   */
  kill(
    service: ServiceName,
    signal: 'SIGTERM' | 'SIGKILL',
    graceMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Starts a stopped service again with the same port, schema and namespace, without waiting for it. */
  spawn(service: ServiceName): void;
  /** Waits until every /health answers 200 (fails if a process exits). */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Stops the services (SIGTERM, SIGKILL after 10 s), drops their schemas and deletes the namespace's streams. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly readyTimeoutMs?: number;
  /** Extra variables for every service. */
  readonly env?: Record<string, string>;
  /** How many sync-agent processes share the schema, namespace and durable consumers (default 1). */
  readonly syncAgentInstances?: number;
  /** The PostgreSQL server and database the services use; default the shared test database on 127.0.0.1:5432. */
  readonly postgres?: PostgresServer;
  /** The NATS server the services use; default the shared one (NATS_URL). */
  readonly natsUrl?: string;
  /** Extra variables for one service (after `env`), e.g. its own bus user. */
  readonly envOf?: (service: ServiceName) => Record<string, string>;
}

/** Where a PostgreSQL database is (trust authentication). */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
}

const SHARED_POSTGRES: PostgresServer = { host: '127.0.0.1', port: 5432, user: 'postgres', database: TEST_DATABASE };

/** Starts pairing, licensing and sync-agent for one test file and waits until all three /health are 200. */
export async function startSystem(label: string, options: StartOptions = {}): Promise<RunningSystem> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const postgres = options.postgres ?? SHARED_POSTGRES;
  const natsUrl = options.natsUrl ?? NATS_URL;
  const namespace = uniqueNamespace(label);
  const schemas = {} as Record<ServiceName, string>;
  const urls = {} as Record<ServiceName, string>;
  const processes = {} as Record<ServiceName, ServiceProcess>;
  const envs = {} as Record<ServiceName, Record<string, string>>;
  for (const { name, portVariable } of SERVICES) {
    const port = await freePort();
    schemas[name] = schemaOf(namespace, name);
    urls[name] = `http://127.0.0.1:${port}`;
    envs[name] = {
      HTTP_HOST: '127.0.0.1',
      [portVariable]: String(port),
      PGHOST: postgres.host,
      PGPORT: String(postgres.port),
      PGUSER: postgres.user,
      PGDATABASE: postgres.database,
      DB_SCHEMA: schemas[name],
      NATS_URL: natsUrl,
      BUS_NAMESPACE: namespace,
      LOG_FORMAT: 'text',
      OPERATOR_API_KEY: TEST_OPERATOR_KEY,
      // nats-server reserves each stream's max_bytes in its store when the stream is created: a test namespace's
      // four streams at the 1 GiB default would reserve 4 GiB each, so test runs use small ones.
      STREAM_MAX_BYTES: String(64 * 1024 ** 2),
      // The sync agent's console proxy forwards to these (pairing and licensing start first).
      ...(name === 'sync-agent' ? { PAIRING_URL: urls.pairing, LICENSING_URL: urls.licensing } : {}),
      ...options.env,
      ...options.envOf?.(name),
    };
    processes[name] = ServiceProcess.spawn(name, envs[name]);
  }
  const extraSyncAgents: { url: string; process: ServiceProcess }[] = [];
  for (let i = 1; i < (options.syncAgentInstances ?? 1); i++) {
    const port = await freePort();
    extraSyncAgents.push({
      url: `http://127.0.0.1:${port}`,
      process: ServiceProcess.spawn('sync-agent', { ...envs['sync-agent'], SYNC_AGENT_PORT: String(port) }),
    });
  }

  // Output of earlier processes of a service (before kill/spawn), so a failure message shows the whole story.
  const earlier = Object.fromEntries(SERVICES.map(({ name }) => [name, ''])) as Record<ServiceName, string>;
  const logOf = (name: string, p: ServiceProcess, before = '') =>
    `----- ${name} (${p.hasExited ? `exited ${p.child.exitCode ?? p.child.signalCode}` : 'running'}) -----\n${before}${p.log}`;
  const logs = () =>
    [
      ...SERVICES.map(({ name }) => logOf(name, processes[name], earlier[name])),
      ...extraSyncAgents.map((a, i) => logOf(`sync-agent #${i + 2}`, a.process)),
    ].join('\n');

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const problems: string[] = [];
    await Promise.all([
      ...SERVICES.map(({ name }) => processes[name].terminate(10_000)),
      ...extraSyncAgents.map((a) => a.process.terminate(10_000)),
    ]);
    await dropSchemas(Object.values(schemas), postgres).catch((e: Error) => problems.push(`dropping schemas: ${e.message}`));
    await deleteNamespaceStreams(namespace, natsUrl).catch((e: Error) => problems.push(`deleting streams: ${e.message}`));
    if (problems.length > 0) throw new Error(`stopping system ${namespace}: ${problems.join('; ')}`);
  };

  try {
    await waitUntilHealthy(urls, processes, readyTimeoutMs, logs);
    for (const extra of extraSyncAgents) {
      await eventually(
        async () => {
          if (extra.process.hasExited) throw new Error(`an extra sync-agent exited during start-up:\n${logs()}`);
          return (await healthStatus(extra.url)) === 200;
        },
        { timeoutMs: readyTimeoutMs, intervalMs: 100, description: `sync-agent at ${extra.url} to be healthy` },
      );
    }
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  return {
    pairing: urls.pairing,
    licensing: urls.licensing,
    syncAgent: urls['sync-agent'],
    namespace,
    schemas,
    processes,
    get syncAgents() {
      return [{ url: urls['sync-agent'], process: processes['sync-agent'] }, ...extraSyncAgents];
    },
    syncAgentEnv: envs['sync-agent'],
    logs,
    stop,
    async restart(service) {
      await processes[service].terminate(10_000);
      processes[service] = ServiceProcess.spawn(service, envs[service]);
      await waitUntilHealthy(urls, processes, readyTimeoutMs, logs);
    },
    urlOf: (service) => urls[service],
    async kill(service, signal, graceMs = 10_000) {
      const proc = processes[service];
      if (signal === 'SIGKILL' && !proc.hasExited) proc.child.kill('SIGKILL');
      return proc.terminate(graceMs);
    },
    spawn(service) {
      if (!processes[service].hasExited) throw new Error(`${service} is still running`);
      earlier[service] = `${earlier[service]}${processes[service].log}\n----- ${service} restarted -----\n`.slice(-100_000);
      processes[service] = ServiceProcess.spawn(service, envs[service]);
    },
    waitUntilHealthy: (timeoutMs = readyTimeoutMs) => waitUntilHealthy(urls, processes, timeoutMs, logs),
  };
}

/**
 * Polls every /health until all answer 200. Fails at once if a process exits (it will not become healthy),
 * or at the deadline; either way with the processes' output.
 */
async function waitUntilHealthy(
  urls: Record<ServiceName, string>,
  processes: Record<ServiceName, ServiceProcess>,
  timeoutMs: number,
  logs: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let statuses: number[] = [];
  for (;;) {
    const crashed = SERVICES.filter(({ name }) => processes[name].hasExited).map((s) => s.name);
    if (crashed.length > 0) throw new Error(`${crashed.join(', ')} exited during start-up:\n${logs()}`);
    statuses = await Promise.all(SERVICES.map(({ name }) => healthStatus(urls[name])));
    if (statuses.every((s) => s === 200)) return;
    if (Date.now() >= deadline) {
      const report = SERVICES.map(({ name }, i) => `${name}=${statuses[i] || 'no answer'}`).join(', ');
      throw new Error(`services not healthy within ${timeoutMs} ms (${report}):\n${logs()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** DROP SCHEMA ... CASCADE for each schema in the test database (or `server`'s). */
export async function dropSchemas(schemas: readonly string[], server: PostgresServer = SHARED_POSTGRES): Promise<void> {
  const client = new pg.Client({ ...server });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Deletes the JetStream streams of the namespace's three sources and its dead letters (with their consumers). */
export async function deleteNamespaceStreams(namespace: string, natsUrl: string = NATS_URL): Promise<void> {
  if (!namespace) throw new Error('refusing to delete the streams of the empty (production) namespace');
  const names = busNames(namespace);
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const stream of [...SERVICES.map(({ name }) => names.stream(name)), names.deadLetterStream]) {
      try {
        await jsm.streams.delete(stream);
      } catch (error) {
        if (!/stream not found/i.test((error as Error).message)) throw error;
      }
    }
  } finally {
    await nc.close();
  }
}

/** A random serial (12 characters 0-9A-F). */
export function randomSerial(): string {
  return randomBytes(6).toString('hex').toUpperCase();
}

/** An ISO instant `ms` milliseconds from now. */
export function fromNow(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

export const DAY_MS = 86_400_000;

/** A pairing process on its own schema whose NATS is an unused port: PostgreSQL up, the bus down. */
export interface PairingWithoutNats {
  readonly proc: ServiceProcess;
  readonly url: string;
  readonly schema: string;
  /** The NATS URL it was given, where nothing answers. */
  readonly natsUrl: string;
}

/** Starts pairing alone against a NATS that does not answer (for what a service does while the bus is down). */
export async function spawnPairingWithoutNats(label: string): Promise<PairingWithoutNats> {
  const port = await freePort();
  const deadNatsPort = await freePort();
  const schema = `${uniqueNamespace(label)}_pairing`;
  const natsUrl = `nats://127.0.0.1:${deadNatsPort}`;
  const proc = ServiceProcess.spawn('pairing', {
    HTTP_HOST: '127.0.0.1',
    PAIRING_PORT: String(port),
    PGDATABASE: TEST_DATABASE,
    DB_SCHEMA: schema,
    NATS_URL: natsUrl,
  });
  return { proc, url: `http://127.0.0.1:${port}`, schema, natsUrl };
}
