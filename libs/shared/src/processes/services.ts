/**
 * The three services as child processes: which there are, where their compiled entry points are, and which
 * variables a tool may give them (an allow-list derived from the configuration schema).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_CONFIG_VARIABLES } from '../config/service-config.js';
import type { EventSource } from '../contracts/index.js';
import { ManagedProcess, REPO_ROOT, type StartProcessOptions } from './processes.js';

export type ServiceName = EventSource;

/** A service: its name on disk, the variable that sets its port, and what it reads beside the configuration. */
export interface ServiceEntry {
  readonly name: ServiceName;
  readonly portVariable: string;
  /** Variables the service reads outside loadServiceConfig's schema. */
  readonly ownVariables: readonly string[];
}

/** The services, in start order (the sync agent's console forwards to the other two). */
export const SERVICES: readonly ServiceEntry[] = [
  { name: 'pairing', portVariable: 'PAIRING_PORT', ownVariables: ['OPERATOR_API_KEY'] },
  { name: 'licensing', portVariable: 'LICENSING_PORT', ownVariables: ['OPERATOR_API_KEY'] },
  {
    name: 'sync-agent',
    portVariable: 'SYNC_AGENT_PORT',
    ownVariables: [
      'OPERATOR_API_KEY',
      // Its console's upstreams, and its license-signing keys.
      'PAIRING_URL',
      'LICENSING_URL',
      'LICENSE_SIGNING_KEYS_DIR',
      'LICENSE_SIGNING_KEY_ID',
      'LICENSE_DOCUMENT_TTL_HOURS',
    ],
  },
];

/** Every variable a tool may give a service: the configuration schema's, the port variables and the services' own. */
export const SERVICE_VARIABLES: ReadonlySet<string> = new Set([
  ...SERVICE_CONFIG_VARIABLES,
  ...SERVICES.flatMap((s) => [s.portVariable, ...s.ownVariables]),
]);

/**
 * `settings` after checking that each names a variable the services read: a misspelt or unknown setting fails here,
 * instead of being ignored by the service while the caller believes it applies.
 */
export function serviceEnvironment(settings: Readonly<Record<string, string>>): Record<string, string> {
  const unknown = Object.keys(settings).filter((name) => !SERVICE_VARIABLES.has(name));
  if (unknown.length > 0) throw new Error(`not a setting of the services: ${unknown.join(', ')}`);
  return { ...settings };
}

/** The variables of `env` that are settings of the services (e.g. the ones a developer exported). */
export function pickServiceSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && SERVICE_VARIABLES.has(entry[0])),
  );
}

/** The variable that sets `service`'s HTTP port (e.g. PAIRING_PORT). */
export function portVariableOf(service: ServiceName): string {
  return SERVICES.find((s) => s.name === service)!.portVariable;
}

/**
 * The schema of one service of a namespace. Short on purpose: the event store's NOTIFY channel is
 * `<schema>_events`, and PostgreSQL rejects channel names of 64 bytes or more.
 */
export function schemaOf(namespace: string, service: ServiceName): string {
  return `${namespace}_${service.replace('-', '_')}`;
}

/** The compiled entry point of a service (`dist/apps/<service>/src/main.js`); fails if the build is missing. */
export function entryPointOf(service: ServiceName): string {
  const path = join(REPO_ROOT, 'dist', 'apps', service, 'src', 'main.js');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first`);
  return path;
}

export interface StartServiceOptions extends Pick<StartProcessOptions, 'logDir' | 'stopGraceMs'> {
  /** Its name in messages; default the service's. */
  readonly name?: string;
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
}

/**
 * Starts the compiled service with only the inherited basics and `settings` (checked by serviceEnvironment) in its
 * environment, as `node --enable-source-maps [nodeArgs] main.js` in the repository root; does not wait for it.
 */
export function startService(
  service: ServiceName,
  settings: Readonly<Record<string, string>>,
  options: StartServiceOptions = {},
): ManagedProcess {
  return ManagedProcess.start({
    name: options.name ?? service,
    args: ['--enable-source-maps', ...(options.nodeArgs ?? []), entryPointOf(service)],
    env: serviceEnvironment(settings),
    ...(options.logDir ? { logDir: options.logDir } : {}),
    ...(options.stopGraceMs ? { stopGraceMs: options.stopGraceMs } : {}),
  });
}
