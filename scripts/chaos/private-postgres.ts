/**
 * A PostgreSQL server that belongs to one chaos run: initdb into a directory of the run, `postgres` on a free
 * loopback port with its socket in that directory, so stopping or crashing it never touches the shared
 * server other tests use. initdb refuses to run as root, so as root the binaries run as the `postgres` user.
 */
import { execFile, execFileSync } from 'node:child_process';
import { appendFile, chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const POSTGRES_BIN = process.env.CHAOS_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** Stops it: `fast` (clients disconnected, clean shutdown) or `immediate` (a crash: recovery from WAL at start). */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops it (immediate) if it runs; its directory is the caller's to remove. */
  dispose(): Promise<void>;
}

/** The command line that runs a PostgreSQL binary, as the postgres user when we are root. */
function command(binary: string, args: readonly string[]): [string, string[]] {
  const path = join(POSTGRES_BIN, binary);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, [...args]];
}

async function exec(binary: string, args: readonly string[]): Promise<string> {
  const [file, argv] = command(binary, args);
  try {
    const { stdout, stderr } = await run(file, argv, { timeout: 120_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${binary} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: error });
  }
}

/** initdb + start in `dir` (created; made the postgres user's when we are root), on `port`; creates `database`. */
export async function startPrivatePostgres(dir: string, port: number, database: string): Promise<PrivatePostgres> {
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const logFile = join(dir, 'postgres.log');
  await mkdir(socketDir, { recursive: true });
  if (process.getuid?.() === 0) {
    await run('chown', ['-R', 'postgres:postgres', dir]);
    await chmod(dir, 0o700);
  }
  await exec('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  // fsync off: the faults here are process crashes, after which the OS still holds every written page, so an
  // acknowledged commit survives them with or without fsync (only a power loss of PostgreSQL would need it; the
  // power losses of the run are NATS's).
  await appendFile(
    join(dataDir, 'postgresql.conf'),
    [
      '',
      '# chaos harness',
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${socketDir}'`,
      'fsync = off',
      'max_connections = 200',
      // When each transaction committed: the readiness oracle reads when the sync agent applied an event.
      'track_commit_timestamp = on',
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', join(dataDir, 'postgresql.conf')]);

  let running = false;
  const start = async () => {
    await exec('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '120', 'start']);
    running = true;
  };
  const stop = async (mode: 'fast' | 'immediate') => {
    running = false;
    await exec('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '120', 'stop']);
  };
  // pg_ctl starts the server detached: if this process dies before dispose(), stop it on the way out.
  const stopOnExit = () => {
    if (!running) return;
    try {
      const [file, argv] = command('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']);
      execFileSync(file, argv, { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // already stopped
    }
  };
  process.once('exit', stopOnExit);

  await start();
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }

  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database,
    start,
    stop,
    async dispose() {
      process.removeListener('exit', stopOnExit);
      if (running) await stop('immediate').catch(() => undefined);
    },
  };
}
