import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../processes/processes.js';

/** A nats-server with JetStream that belongs to one test file, so the test can take it down and bring it back. */
export interface PrivateNatsServer {
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory; it survives stop() and start(), so streams and messages do too. */
  readonly storeDir: string;
  /** Stops the server (SIGTERM, SIGKILL if it lingers) and waits for it to exit. Does nothing if stopped. */
  stop(): Promise<void>;
  /** Kills it (SIGKILL: no flush, no goodbye to clients) and waits for it to exit. Does nothing if stopped. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store directory; resolves once it accepts clients. */
  start(): Promise<void>;
  /** Stops it and deletes its store directory. */
  dispose(): Promise<void>;
}

export interface PrivateNatsServerOptions {
  readonly binary?: string;
  readonly readyTimeoutMs?: number;
  /** Where JetStream keeps its files (created if missing, deleted by dispose()); default a new temporary directory. */
  readonly storeDir?: string;
  /**
   * A nats-server configuration file (`-c`), e.g. one that includes the repository's deploy/nats/permissions.conf;
   * the address, port and JetStream store given on the command line override it.
   */
  readonly configFile?: string;
  /** Extra environment of the server process (the passwords a configuration refers to as `$VARIABLE`). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Starts `nats-server -js` on a free localhost port with a fresh store directory. Never touch the shared
 * server for an outage test: stop() and start() this one instead, and dispose() it in afterAll.
 */
export async function startPrivateNatsServer(options: PrivateNatsServerOptions = {}): Promise<PrivateNatsServer> {
  const binary = options.binary ?? '/usr/sbin/nats-server';
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), 'nats-js-')));
  await mkdir(storeDir, { recursive: true });
  const port = await freePort();
  let child: ChildProcess | undefined;

  // A test that crashes before afterAll must not leave the server running.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  async function start(): Promise<void> {
    if (child) return;
    const config = options.configFile ? ['-c', options.configFile] : [];
    const proc = spawn(binary, [...config, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    child = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`nats-server on port ${port} not ready after ${readyTimeoutMs} ms:\n${log}`)),
        readyTimeoutMs,
      );
      const exitedEarly = (code: number | null, signal: string | null) =>
        fail(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${log}`));
      function settle() {
        clearTimeout(timer);
        proc.removeListener('error', fail);
        proc.removeListener('exit', exitedEarly);
      }
      function fail(error: Error) {
        settle();
        proc.kill('SIGKILL');
        reject(error);
      }
      // Always drained, so the server never blocks on a full pipe; the start of the log explains a failure.
      proc.stderr.on('data', (chunk: Buffer) => {
        if (log.length < 20_000) log += chunk.toString();
        if (log.includes('Server is ready')) {
          settle();
          resolve();
        }
      });
      proc.once('error', fail);
      proc.once('exit', exitedEarly);
    }).catch((error: Error) => {
      child = undefined;
      throw error;
    });
    proc.once('exit', () => {
      if (child === proc) child = undefined;
    });
  }

  async function stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = child;
    if (!proc) return;
    if (proc.exitCode !== null || proc.signalCode !== null) {
      child = undefined;
      return;
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const lingering = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(lingering);
    child = undefined;
  }

  try {
    await start();
  } catch (error) {
    process.removeListener('exit', killOnExit);
    await rm(storeDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop: () => stop('SIGTERM'),
    kill: () => stop('SIGKILL'),
    start,
    async dispose() {
      await stop();
      process.removeListener('exit', killOnExit);
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
