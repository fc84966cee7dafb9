/**
 * The development bus of `npm start`: a nats-server of its own on a loopback port, with JetStream storing under
 * `.local/nats/`, and the bus users and permissions of deploy/nats/permissions.conf, as in production. Each user's
 * password is generated once into `.local/nats/bus-passwords.env` (mode 0600). Nothing is allowed without a
 * user: no `no_auth_user`, so an anonymous client is refused at connect.
 */
import { accessSync, constants, copyFileSync, createWriteStream, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from '#shared/tools';
import {
  busPasswordEnvironment,
  busPasswordsKeptIn,
  ensureDirectory,
  envFile,
  readSecret,
  syncCopy,
  type BusUser,
} from '../deploy/secrets.js';

/** The repository's bus permissions. */
export function permissionsFile(repoRoot: string): string {
  return join(repoRoot, 'deploy', 'nats', 'permissions.conf');
}

/** The repository root: this file is scripts/dev/dev-bus.ts, or dist/scripts/dev/dev-bus.js when compiled. */
const TWO_UP = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
export const REPO_ROOT = basename(TWO_UP) === 'dist' && !existsSync(join(TWO_UP, 'package.json')) ? dirname(TWO_UP) : TWO_UP;

/** The loopback port of the development bus unless DEV_NATS_PORT says otherwise (4222 is often a shared server). */
export const DEFAULT_DEV_NATS_PORT = 4223;

export const NATS_SERVER_INSTALL_HINT = [
  'nats-server was not found (looked at NATS_SERVER_BIN, PATH, /usr/sbin/nats-server, /usr/local/bin/nats-server).',
  '`npm start` runs its own NATS (JetStream, with the bus users of deploy/nats/permissions.conf). Install it:',
  '  Debian/Ubuntu:  sudo apt-get install nats-server',
  '  macOS:          brew install nats-server',
  '  other:          a release binary from the NATS project (nats-server 2.9 or later), on PATH or in NATS_SERVER_BIN',
  'Or use a bus you run yourself: NATS_URL=nats://host:port (with NATS_USER/NATS_PASSWORD if it has users) npm start',
].join('\n');

/** The nats-server binary: NATS_SERVER_BIN, else the first on PATH, else the usual places; null if none. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [
    ...(env.NATS_SERVER_BIN ? [env.NATS_SERVER_BIN] : []),
    ...(env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'nats-server')),
    '/usr/sbin/nats-server',
    '/usr/local/bin/nats-server',
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

/** Where the development bus keeps its files. */
export function devBusFiles(stateDir: string) {
  return {
    dir: stateDir,
    config: join(stateDir, 'nats.conf'),
    permissions: join(stateDir, 'permissions.conf'),
    passwords: join(stateDir, 'bus-passwords.env'),
    store: join(stateDir, 'jetstream'),
    log: join(stateDir, 'nats-server.log'),
    pid: join(stateDir, 'nats-server.pid'),
  };
}

/**
 * Writes the server's configuration (every start, from deploy/nats/permissions.conf) and the users' passwords
 * (once: existing ones are kept). Returns the passwords.
 */
export function prepareDevBus(stateDir: string, port: number, repoRoot: string): Record<BusUser, string> {
  const files = devBusFiles(stateDir);
  ensureDirectory(stateDir, 0o700);
  const passwords = busPasswordsKeptIn(files.passwords);
  syncCopy(files.passwords, envFile(busPasswordEnvironment(passwords)), 0o600);
  // nats-server resolves an include against the including file's directory only, so the permissions sit beside it.
  copyFileSync(permissionsFile(repoRoot), files.permissions);
  writeFileSync(
    files.config,
    [
      '# Written by `npm start` (scripts/dev/dev-bus.ts) at every start: change deploy/nats/permissions.conf instead.',
      '# Every client needs a user of permissions.conf; there is no no_auth_user, so anonymous clients are refused.',
      'server_name: ha-license-sync-dev',
      `listen: "127.0.0.1:${port}"`,
      `pid_file: ${JSON.stringify(files.pid)}`,
      `jetstream { store_dir: ${JSON.stringify(files.store)} }`,
      'include ./permissions.conf',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return passwords;
}

/** A running development bus. */
export interface DevBus {
  readonly url: string;
  readonly passwords: Readonly<Record<BusUser, string>>;
  readonly pid: number;
  /** SIGTERM, SIGKILL after 5 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts nats-server with the development configuration and resolves once it accepts clients. It runs in a process
 * group of its own, so a Ctrl-C meant for the services does not take the bus away while they drain; the caller
 * stops it after them. A server left by an earlier start that was killed is stopped first.
 */
export async function startDevBus(options: {
  readonly binary: string;
  readonly stateDir: string;
  readonly port: number;
  readonly repoRoot: string;
  readonly readyTimeoutMs?: number;
  readonly log?: (line: string) => void;
}): Promise<DevBus> {
  const files = devBusFiles(options.stateDir);
  const passwords = prepareDevBus(options.stateDir, options.port, options.repoRoot);
  await stopLeftover(files.pid, files.config, options.log);
  const logFile = createWriteStream(files.log, { flags: 'a', mode: 0o600 });
  const server = ManagedProcess.start({
    name: 'nats-server',
    command: options.binary,
    args: ['-c', files.config],
    // `npm start` passes the developer's environment on (docs/decisions.md §44), and the passwords by name.
    env: busPasswordEnvironment(passwords),
    inherit: Object.keys(process.env),
    cwd: process.cwd(),
    detached: true,
    // Lines may still come in after the stream is closed (the pipe drains after the exit).
    onLine: (line) => {
      if (!logFile.writableEnded) logFile.write(`${line}\n`);
    },
    stopGraceMs: 5_000,
  });
  const closeLog = () => new Promise<void>((resolve) => logFile.end(resolve));
  try {
    await server.waitForOutput('Server is ready', options.readyTimeoutMs ?? 15_000);
  } catch (error) {
    await closeLog();
    throw new Error(`${(error as Error).message}\n(log: ${files.log})`, { cause: error });
  }
  return {
    url: `nats://127.0.0.1:${options.port}`,
    passwords,
    pid: server.pid,
    async stop() {
      await server.stop();
      await closeLog();
    },
  };
}

/** Stops the nats-server of an earlier start (its pid file names it, and its command line names our config). */
async function stopLeftover(pidFile: string, config: string, log?: (line: string) => void): Promise<void> {
  const pid = Number(readSecret(pidFile));
  if (!Number.isInteger(pid) || pid <= 0) return;
  let commandLine: string;
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    rmSync(pidFile, { force: true });
    return;
  }
  if (!commandLine.includes('nats-server') || !commandLine.includes(config)) return;
  log?.(`stopping the development nats-server left by an earlier start (pid ${pid})`);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  process.kill(pid, 'SIGKILL');
}
