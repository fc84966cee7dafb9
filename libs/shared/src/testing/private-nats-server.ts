import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess, freePort } from '../processes/processes.js';

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
  // Killed with the test process if it crashes before afterAll (the harness kills what it started on exit).
  let child: ManagedProcess | undefined;

  async function start(): Promise<void> {
    if (child) return;
    const config = options.configFile ? ['-c', options.configFile] : [];
    const proc = ManagedProcess.start({
      name: `nats-server on port ${port}`,
      command: binary,
      args: [...config, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir],
      env: { ...options.env },
      stopGraceMs: 5_000,
    });
    child = proc;
    try {
      await proc.waitForOutput('Server is ready', readyTimeoutMs);
    } catch (error) {
      child = undefined;
      throw error;
    }
    void proc.exited.then(() => {
      if (child === proc) child = undefined;
    });
  }

  async function stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = child;
    if (!proc) return;
    if (signal === 'SIGKILL') proc.child.kill('SIGKILL');
    await proc.stop();
    child = undefined;
  }

  try {
    await start();
  } catch (error) {
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
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
