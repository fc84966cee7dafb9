/**
 * `npm start` (after the build): the development system in one command. Starts a nats-server of its own
 * (dev-bus.ts: loopback port DEV_NATS_PORT, default 4223, JetStream under `.local/nats/`, the bus users of
 * deploy/nats/permissions.conf), creates the streams and consumers as the bus-admin user, then runs pairing,
 * licensing and the sync agent, each as its own bus user. Ctrl-C stops the services, then the bus.
 *
 * NATS_URL set: that bus is used instead and no nats-server is started; NATS_USER / NATS_PASSWORD, if set, are
 * given to the bus setup and to every service as they are (the tests' shared NATS has no users).
 */
import { spawn } from 'node:child_process';
import { join, relative } from 'node:path';
import {
  createConcurrently,
  KillOnSignal,
  KillOthers,
  LogError,
  LogExit,
  LogOutput,
  Logger,
  type ConcurrentlyCommandInput,
} from 'concurrently';
import { SERVICES, entryPointOf, type ServiceName } from '#shared/tools';
import { BUS_PASSWORD_VARIABLES } from '../deploy/secrets.js';
import {
  DEFAULT_DEV_NATS_PORT,
  NATS_SERVER_INSTALL_HINT,
  REPO_ROOT,
  findNatsServer,
  startDevBus,
  type DevBus,
} from './dev-bus.js';

const COLORS: Record<ServiceName, string> = { pairing: 'blue', licensing: 'magenta', 'sync-agent': 'green' };

const log = (line: string) => console.log(`[start] ${line}`);

/** Runs a node script of dist/ to its end; resolves with its exit code. */
function runScript(script: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', script)], { cwd: REPO_ROOT, env, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  let bus: DevBus | undefined;
  let stopping = false;
  // Until the services run (concurrently forwards signals to them), a Ctrl-C stops the bus and exits.
  const early = () => {
    stopping = true;
    void (bus?.stop() ?? Promise.resolve()).then(() => process.exit(130));
  };
  process.on('SIGINT', early);
  process.on('SIGTERM', early);

  const given = process.env.NATS_URL;
  let busEnv: (user: 'bus-admin' | ServiceName) => NodeJS.ProcessEnv;
  if (given) {
    log(`NATS_URL is set: using ${given} (no nats-server of our own; NATS_USER/NATS_PASSWORD passed on as given)`);
    busEnv = () => ({});
  } else {
    const binary = findNatsServer();
    if (!binary) {
      console.error(NATS_SERVER_INSTALL_HINT);
      return 1;
    }
    const port = Number(process.env.DEV_NATS_PORT || DEFAULT_DEV_NATS_PORT);
    const stateDir = join(REPO_ROOT, '.local', 'nats');
    try {
      bus = await startDevBus({ binary, stateDir, port, repoRoot: REPO_ROOT, log });
    } catch (error) {
      console.error(`[start] could not start nats-server: ${(error as Error).message}`);
      console.error(`[start] is port ${port} taken? DEV_NATS_PORT=<port> npm start picks another.`);
      return 1;
    }
    log(
      `nats-server ${binary} on ${bus.url} (JetStream in ${join(stateDir, 'jetstream')}, log ${join(stateDir, 'nats-server.log')}); ` +
        `bus users' passwords in ${join(stateDir, 'bus-passwords.env')}`,
    );
    const passwords = bus.passwords;
    const url = bus.url;
    busEnv = (user) => ({ NATS_URL: url, NATS_USER: user, NATS_PASSWORD: passwords[user] });
  }
  if (stopping) return 130;

  try {
    const setup = await runScript(join('scripts', 'bus-setup.js'), { ...process.env, ...busEnv('bus-admin') });
    if (setup !== 0) {
      console.error(`[start] bus setup failed (exit ${setup})`);
      return 1;
    }
    if (stopping) return 130;
    process.removeListener('SIGINT', early);
    process.removeListener('SIGTERM', early);
    // The bus passwords of the other users never reach a service: each gets its own.
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !Object.values<string>(BUS_PASSWORD_VARIABLES).includes(name)),
    );
    const commands: ConcurrentlyCommandInput[] = SERVICES.map(({ name }) => ({
      command: `exec node ${relative(REPO_ROOT, entryPointOf(name))}`,
      name,
      prefixColor: COLORS[name],
      cwd: REPO_ROOT,
      env: { ...clean, ...busEnv(name) },
    }));
    // Each service runs in a process group of its own, so a Ctrl-C reaches it once, forwarded by KillOnSignal, and
    // not a second time from the terminal (a second signal makes a service exit at once, without draining).
    const logger = new Logger({ prefixFormat: 'name' });
    const abortController = new AbortController();
    const { result } = createConcurrently(commands, {
      logger,
      outputStream: process.stdout,
      spawn: (command, options) => spawn('/bin/sh', ['-c', command], { ...options, detached: true }),
      abortSignal: abortController.signal,
      controllers: [
        new LogError({ logger }),
        new LogOutput({ logger }),
        new LogExit({ logger }),
        new KillOnSignal({ process, abortController }),
        new KillOthers({ logger, conditions: ['failure', 'success'], killSignal: undefined, abortController }),
      ],
    });
    const outcome = await result.then(
      () => 0,
      () => 1,
    );
    return outcome;
  } finally {
    if (bus) {
      await bus.stop();
      log('nats-server stopped');
    }
  }
}

process.exitCode = await main();
