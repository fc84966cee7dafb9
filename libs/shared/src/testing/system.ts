/**
 * The three services as separate child processes (the compiled `dist/` output, as in production), each on a free
 * port, its own PostgreSQL schema and one bus namespace shared by the three, so a system sees nothing of another's;
 * stopped, its schemas and streams go too. Used by the end-to-end tests, the fuzz and the chaos run. Needs
 * `npm run build` first.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { busNames } from '../contracts/index.js';
import { loadEventKeyRing } from '../event-signing/event-key-ring.js';
import type { EventSigningKey } from '../event-signing/event-signature.js';
import {
  REPO_ROOT,
  freePort,
  waitUntilHealthy,
  type ExitStatus,
  type ManagedProcess,
  type WaitOptions,
} from '../processes/processes.js';
import { SERVICES, schemaOf, startService, type ServiceName } from '../processes/services.js';
import { TEST_DATABASE } from './postgres.js';

/** The shared NATS server of the tests on this machine. */
export const NATS_URL = 'nats://127.0.0.1:4222';

/**
 * The bootstrap operator key every system starts with (OPERATOR_API_KEY) unless told otherwise. Random per
 * process, like a real key.
 */
export const TEST_OPERATOR_KEY = `hlsk_${randomBytes(32).toString('base64url')}`;

/**
 * The development signing key the services of this checkout use for `source`'s events (they run with the
 * repository root as working directory and no EVENT_KEYS_DIR), made if missing: what a test needs to publish an
 * event the services accept as that producer's.
 */
export function developmentSigningKey(source: ServiceName): EventSigningKey {
  const dir = `${REPO_ROOT}/.local/event-signing-keys`;
  return loadEventKeyRing({ dir, configured: false, signingKeyId: undefined, production: false }, source).signing;
}

/** A unique bus namespace `e2e_<label>_<random8>` (a-z, 0-9, _). */
export function uniqueNamespace(label: string): string {
  const part =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 16) || 'x';
  return `e2e_${part}_${randomBytes(4).toString('hex')}`;
}

/** Where a PostgreSQL database is (trust authentication unless a password is given). */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  readonly database: string;
}

const SHARED_POSTGRES: PostgresServer = { host: '127.0.0.1', port: 5432, user: 'postgres', database: TEST_DATABASE };

export interface RunningSystem {
  readonly pairing: string;
  readonly licensing: string;
  readonly syncAgent: string;
  readonly namespace: string;
  readonly schemas: Readonly<Record<ServiceName, string>>;
  readonly processes: Readonly<Record<ServiceName, ManagedProcess>>;
  /** Every sync-agent instance (the first is `syncAgent`), with `syncAgentInstances` > 1: same schema and namespace. */
  readonly syncAgents: readonly { readonly url: string; readonly process: ManagedProcess }[];
  /** The environment the sync agent runs with (e.g. for a CLI of the sync agent against the same data). */
  readonly syncAgentEnv: Readonly<Record<string, string>>;
  /** Captured output of the processes, for failure messages. */
  logs(): string;
  /** Stops one service (SIGTERM) and starts it again with the same port, schema and namespace; waits for /health 200. */
  restart(service: ServiceName): Promise<void>;
  /** The base URL of a service. */
  urlOf(service: ServiceName): string;
  /**
   * Stops one service with `signal` (SIGTERM: SIGKILL after `graceMs` if it lingers; SIGKILL: at once) and resolves
   * with how it exited. Its output stays in logs().
   */
  kill(service: ServiceName, signal: 'SIGTERM' | 'SIGKILL', graceMs?: number): Promise<ExitStatus>;
  /** Starts a stopped service again with the same port, schema and namespace, without waiting for it. */
  spawn(service: ServiceName): void;
  /** Waits until every /health answers 200 (fails if a process exits); `onUnready` is told each other answer. */
  waitUntilHealthy(timeoutMs?: number, onUnready?: WaitOptions['onUnready']): Promise<void>;
  /** Stops the services (SIGTERM, SIGKILL after 10 s), drops their schemas and deletes the namespace's streams. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly readyTimeoutMs?: number;
  /** Settings for every service (checked against the services' variables, see serviceEnvironment). */
  readonly env?: Record<string, string>;
  /** How many sync-agent processes share the schema, namespace and durable consumers (default 1). */
  readonly syncAgentInstances?: number;
  /** The PostgreSQL server and database the services use; default the shared test database on 127.0.0.1:5432. */
  readonly postgres?: PostgresServer;
  /** The NATS server the services use; default the shared one (NATS_URL). */
  readonly natsUrl?: string;
  /** The bus namespace (and schema prefix); default uniqueNamespace(label). */
  readonly namespace?: string;
  /** Settings for one service (after `env`), e.g. its own bus user. */
  readonly envOf?: (service: ServiceName) => Record<string, string>;
}

/**
 * What a test gives one service: loopback HTTP on `port`, its schema of `namespace` (schemaOf) in the test database,
 * the bus namespace, text logs, the test operator key and small streams. Processes and in-process services alike.
 */
export function testServiceEnv(
  service: ServiceName,
  port: number,
  namespace: string,
  postgres: PostgresServer = SHARED_POSTGRES,
  natsUrl: string = NATS_URL,
): Record<string, string> {
  const known = SERVICES.find((s) => s.name === service);
  if (!known) throw new Error(`${service} is not one of the services (${SERVICES.map((s) => s.name).join(', ')})`);
  return {
    HTTP_HOST: '127.0.0.1',
    [known.portVariable]: String(port),
    PGHOST: postgres.host,
    PGPORT: String(postgres.port),
    PGUSER: postgres.user,
    ...(postgres.password ? { PGPASSWORD: postgres.password } : {}),
    PGDATABASE: postgres.database,
    DB_SCHEMA: schemaOf(namespace, service),
    NATS_URL: natsUrl,
    BUS_NAMESPACE: namespace,
    LOG_FORMAT: 'text',
    OPERATOR_API_KEY: TEST_OPERATOR_KEY,
    // nats-server reserves each stream's max_bytes in its store when the stream is created: a test namespace's
    // four streams at the 1 GiB default would reserve 4 GiB each, so test runs use small ones.
    STREAM_MAX_BYTES: String(64 * 1024 ** 2),
  };
}

/** Starts pairing, licensing and sync-agent and waits until all three /health are 200. */
export async function startSystem(label: string, options: StartOptions = {}): Promise<RunningSystem> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const postgres = options.postgres ?? SHARED_POSTGRES;
  const natsUrl = options.natsUrl ?? NATS_URL;
  const namespace = options.namespace ?? uniqueNamespace(label);
  const schemas = {} as Record<ServiceName, string>;
  const urls = {} as Record<ServiceName, string>;
  const processes = {} as Record<ServiceName, ManagedProcess>;
  const envs = {} as Record<ServiceName, Record<string, string>>;
  const extraSyncAgents: { url: string; process: ManagedProcess }[] = [];
  // Output of earlier processes of a service (before kill/spawn), so a failure message shows the whole story.
  const earlier = Object.fromEntries(SERVICES.map(({ name }) => [name, ''])) as Record<ServiceName, string>;
  const logOf = (name: string, p: ManagedProcess, before = '') =>
    `----- ${name} (${p.hasExited ? `exited ${p.child.exitCode ?? p.child.signalCode}` : 'running'}) -----\n${before}${p.log}`;
  const logs = () =>
    [
      ...SERVICES.filter(({ name }) => processes[name]).map(({ name }) => logOf(name, processes[name], earlier[name])),
      ...extraSyncAgents.map((a, i) => logOf(`sync-agent #${i + 2}`, a.process)),
    ].join('\n');
  const targets = () => SERVICES.map(({ name }) => ({ name, url: urls[name], process: processes[name] }));
  const healthy = (timeoutMs: number, onUnready?: WaitOptions['onUnready']) =>
    waitUntilHealthy(targets(), { timeoutMs, logs, onUnready });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const problems: string[] = [];
    await Promise.all([...Object.values(processes), ...extraSyncAgents.map((a) => a.process)].map((p) => p.stop(10_000)));
    await dropSchemas(Object.values(schemas), postgres).catch((e: Error) => problems.push(`dropping schemas: ${e.message}`));
    await deleteNamespaceStreams(namespace, natsUrl).catch((e: Error) => problems.push(`deleting streams: ${e.message}`));
    if (problems.length > 0) throw new Error(`stopping system ${namespace}: ${problems.join('; ')}`);
  };

  try {
    for (const { name } of SERVICES) {
      const port = await freePort();
      schemas[name] = schemaOf(namespace, name);
      urls[name] = `http://127.0.0.1:${port}`;
      envs[name] = {
        ...testServiceEnv(name, port, namespace, postgres, natsUrl),
        // The sync agent's console proxy forwards to these (pairing and licensing start first).
        ...(name === 'sync-agent' ? { PAIRING_URL: urls.pairing, LICENSING_URL: urls.licensing } : {}),
        ...options.env,
        ...options.envOf?.(name),
      };
      processes[name] = startService(name, envs[name]);
    }
    for (let i = 1; i < (options.syncAgentInstances ?? 1); i++) {
      const port = await freePort();
      extraSyncAgents.push({
        url: `http://127.0.0.1:${port}`,
        process: startService('sync-agent', { ...envs['sync-agent'], SYNC_AGENT_PORT: String(port) }),
      });
    }
    await healthy(readyTimeoutMs);
    const extras = extraSyncAgents.map((a, i) => ({ name: `sync-agent #${i + 2}`, ...a }));
    await waitUntilHealthy(extras, { timeoutMs: readyTimeoutMs, logs });
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
      await processes[service].stop(10_000);
      processes[service] = startService(service, envs[service]);
      await healthy(readyTimeoutMs);
    },
    urlOf: (service) => urls[service],
    async kill(service, signal, graceMs = 10_000) {
      const proc = processes[service];
      if (signal === 'SIGKILL' && !proc.hasExited) proc.child.kill('SIGKILL');
      return proc.stop(graceMs);
    },
    spawn(service) {
      if (!processes[service].hasExited) throw new Error(`${service} is still running`);
      earlier[service] = `${earlier[service]}${processes[service].log}\n----- ${service} restarted -----\n`.slice(-100_000);
      processes[service] = startService(service, envs[service]);
    },
    waitUntilHealthy: (timeoutMs = readyTimeoutMs, onUnready) => healthy(timeoutMs, onUnready),
  };
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
