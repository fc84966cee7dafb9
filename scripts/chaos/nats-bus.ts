/**
 * The chaos run's bus: one nats-server, or a 3-node JetStream cluster on loopback. Each node is a process with its
 * own configuration file (server_name, listen, jetstream store_dir, and for a cluster its name, route listener and
 * the routes to all three) and its own store directory, so the nemesis can stop, kill, pause (SIGSTOP: a node that
 * stalls, as behind a partition) and resume (SIGCONT) one node or all, and copy and restore a node's store.
 *
 * Like the harness's single server before it, the nodes run without authorization: the repository's permissions
 * (deploy/nats/permissions.conf) name the production subjects, and a chaos run lives in its own bus namespace.
 */
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '#shared';
import { eventually } from '#shared/testing';
import { ManagedProcess, freePort } from '#shared/tools';

export const NATS_BINARY = process.env.CHAOS_NATS_BIN ?? '/usr/sbin/nats-server';

/** single: one server, as docker-compose deploys it; cluster: three nodes and streams with 3 replicas. */
export type BusMode = 'single' | 'cluster';

/** What one node's configuration says. */
export interface NodeSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly storeDir: string;
  /** The node's route listener; absent for a single server. */
  readonly routePort?: number;
}

/** The cluster a node belongs to: its name and every node's route port (each node is given all of them). */
export interface ClusterSpec {
  readonly name: string;
  readonly routePorts: readonly number[];
}

/** A nats-server configuration file for `node`, on loopback, with JetStream; a cluster member when `cluster` is given. */
export function nodeConfig(node: NodeSpec, cluster: ClusterSpec | null): string {
  const lines = [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.clientPort}`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(node.storeDir)}`,
    `}`,
  ];
  if (cluster) {
    if (node.routePort === undefined) throw new Error(`cluster node ${node.name} needs a route port`);
    lines.push(
      `cluster {`,
      `  name: ${cluster.name}`,
      `  listen: 127.0.0.1:${node.routePort}`,
      `  routes: [`,
      ...cluster.routePorts.map((port) => `    nats-route://127.0.0.1:${port}`),
      `  ]`,
      `}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One nats-server process of the bus. */
export class NatsNode {
  private child: ManagedProcess | undefined;
  private stopped = false; // SIGSTOPped
  /** Output of the node's earlier processes, so its log tells the whole story. */
  private earlier = '';

  constructor(
    readonly spec: NodeSpec,
    private readonly configFile: string,
    private readonly readyTimeoutMs = 20_000,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.spec.clientPort}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get paused(): boolean {
    return this.stopped;
  }

  /** The end of the node's log, to explain a failure. */
  get log(): string {
    return `${this.earlier}${this.child?.log ?? ''}`.slice(-20_000);
  }

  /** Starts the node; resolves once it accepts clients. Does nothing if it runs. */
  async start(): Promise<void> {
    if (this.child) return;
    const proc = ManagedProcess.start({
      name: this.name,
      command: NATS_BINARY,
      args: ['-c', this.configFile],
      stopGraceMs: 5_000,
    });
    this.child = proc;
    this.stopped = false;
    void proc.exited.then(() => {
      this.earlier = `${this.earlier}${proc.log}`.slice(-20_000);
      if (this.child === proc) this.child = undefined;
    });
    try {
      await proc.waitForOutput('Server is ready', this.readyTimeoutMs);
    } catch (error) {
      this.child = undefined;
      throw error;
    }
  }

  /** SIGTERM (SIGKILL if it lingers 5 s) or SIGKILL, and waits for the exit. A paused node is resumed first for SIGTERM. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = this.child;
    if (!proc) return;
    if (signal === 'SIGKILL') proc.child.kill('SIGKILL');
    const stopping = proc.stop();
    if (signal === 'SIGTERM' && this.stopped) proc.child.kill('SIGCONT');
    await stopping;
    this.child = undefined;
    this.stopped = false;
  }

  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** SIGSTOP: the process holds its connections but answers nothing, like a node cut off by a partition. */
  pause(): void {
    if (!this.child || this.stopped) return;
    this.child.child.kill('SIGSTOP');
    this.stopped = true;
  }

  /** SIGCONT. */
  resume(): void {
    if (!this.child || !this.stopped) return;
    this.child.child.kill('SIGCONT');
    this.stopped = false;
  }

  /** The store directory's copy, as `snapshot()` takes it and `restore()` puts it back. */
  get snapshotDir(): string {
    return `${this.spec.storeDir}.snapshot`;
  }

  /** Copies the store directory; the caller pauses the node first, so the copy is one instant's state. */
  async snapshot(): Promise<void> {
    await rm(this.snapshotDir, { recursive: true, force: true });
    await cp(this.spec.storeDir, this.snapshotDir, { recursive: true });
  }

  /** Replaces the store directory with the last snapshot (the node must be down). */
  async restore(): Promise<void> {
    if (this.child) throw new Error(`${this.name} still runs: kill it before restoring its store`);
    await rm(this.spec.storeDir, { recursive: true, force: true });
    await rename(this.snapshotDir, this.spec.storeDir);
  }

  /** SIGKILL at once: for the exit handler. */
  killNow(): void {
    this.child?.child.kill('SIGKILL');
  }
}

/** The bus of one chaos run: its nodes, the client URLs the services get, and the replicas its streams need. */
export class ChaosBus {
  private readonly killOnExit = () => {
    for (const node of this.nodes) node.killNow();
  };

  private constructor(
    readonly mode: BusMode,
    readonly nodes: readonly NatsNode[],
  ) {
    process.once('exit', this.killOnExit);
  }

  /** Every node's client URL, for NATS_URL (comma-separated) and the harness's own connections. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  get replicas(): number {
    return this.mode === 'cluster' ? 3 : 1;
  }

  /** Writes the configurations under `dir`, starts every node and waits until JetStream answers. */
  static async start(dir: string, mode: BusMode, readyTimeoutMs = 60_000): Promise<ChaosBus> {
    const count = mode === 'cluster' ? 3 : 1;
    const specs: NodeSpec[] = [];
    for (let i = 1; i <= count; i++) {
      specs.push({
        name: `n${i}`,
        clientPort: await freePort(),
        storeDir: join(dir, `n${i}`, 'store'),
        ...(mode === 'cluster' ? { routePort: await freePort() } : {}),
      });
    }
    const cluster = mode === 'cluster' ? { name: 'chaos', routePorts: specs.map((s) => s.routePort!) } : null;
    const nodes: NatsNode[] = [];
    for (const spec of specs) {
      await mkdir(spec.storeDir, { recursive: true });
      const configFile = join(dir, spec.name, 'nats.conf');
      await writeFile(configFile, nodeConfig(spec, cluster));
      nodes.push(new NatsNode(spec, configFile));
    }
    const bus = new ChaosBus(mode, nodes);
    try {
      await bus.startAll();
      await bus.waitForJetStream(readyTimeoutMs);
    } catch (error) {
      await bus.dispose();
      throw error;
    }
    return bus;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start()));
  }

  async stopAll(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop(signal)));
  }

  /** Pauses every node, copies each store, resumes them: one instant's state of the whole bus. */
  async snapshot(nodes: readonly NatsNode[] = this.nodes): Promise<void> {
    for (const node of nodes) node.pause();
    try {
      for (const node of nodes) await node.snapshot();
    } finally {
      for (const node of nodes) node.resume();
    }
  }

  /** Polls until a JetStream API call succeeds through any node (a cluster first elects its meta leader). */
  async waitForJetStream(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const nc = await connect({ servers: this.urls, name: 'chaos-bus-check', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    try {
      let last: unknown;
      while (Date.now() < deadline) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.getAccountInfo();
          return;
        } catch (error) {
          last = error;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      throw new Error(`JetStream not available within ${timeoutMs} ms: ${(last as Error)?.message}`);
    } finally {
      await nc.close();
    }
  }

  /** Creates a file-backed stream with limits retention on `subjects`, on every node, trying again while leaders are elected. */
  async addStream(jsm: JetStreamManager, name: string, subjects: string[]): Promise<void> {
    await eventually(
      async () => {
        await jsm.streams.add({
          name,
          subjects,
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          num_replicas: this.replicas,
        });
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 250, description: `the stream ${name} to be created` },
    );
  }

  /** Stops every node (the caller removes the directory). */
  async dispose(): Promise<void> {
    await this.stopAll('SIGKILL').catch(() => undefined);
    process.removeListener('exit', this.killOnExit);
  }
}

/** A private bus in a temporary directory of its own and a client connected to it, for one test. */
export interface ScratchBus {
  readonly bus: ChaosBus;
  readonly nc: NatsConnection;
  /** Closes the client, stops every node and removes the directory. */
  dispose(): Promise<void>;
}

/** Starts a ScratchBus: `label` names its directory and the client, which connects as the services do unless told. */
export async function startScratchBus(
  label: string,
  mode: BusMode,
  connectTo: (urls: string[]) => Promise<NatsConnection> = (urls) => connectNats(urls, label),
): Promise<ScratchBus> {
  const dir = await mkdtemp(join(tmpdir(), `${label}-`));
  let bus: ChaosBus | undefined;
  try {
    bus = await ChaosBus.start(dir, mode);
    const started = bus;
    const nc = await connectTo(bus.urls);
    return {
      bus,
      nc,
      async dispose() {
        await nc.close().catch(() => undefined);
        await started.dispose();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await bus?.dispose();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Publishes `body` under the message id `msgID`, again while the bus elects its leaders, until it is stored once. */
export async function publishUntilStored(js: JetStreamClient, subject: string, body: string, msgID: string): Promise<void> {
  await eventually(
    async () => {
      await js.publish(subject, body, { msgID });
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 250, description: `message ${msgID} to be stored` },
  );
}
