/**
 * Child processes of the tools that start services (the end-to-end tests, the benchmark, the fuzz, the chaos run,
 * the deploy check): a free port, a process whose output is kept for failure messages, a wait until its HTTP probe
 * answers 200, and a stop that escalates from SIGTERM to SIGKILL. Framework-free (`#shared/tools`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout this module belongs to: the nearest folder above it with a package.json (dist/ has none). */
export const REPO_ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(`${dir}/package.json`)) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
})();

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

/**
 * What a child inherits from the parent, whatever else the parent holds: the operating system's basics and nothing
 * that configures a service, so a developer's NATS credentials, key directories or limits never reach a child that
 * a tool starts with settings of its own. Everything else a child gets is given to it by name.
 */
export const INHERITED_VARIABLES: readonly string[] = ['PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL'];

/** The child's environment: the inherited variables the parent has, then `env`. */
export function childEnvironment(
  env: Readonly<Record<string, string>> = {},
  inherit: readonly string[] = INHERITED_VARIABLES,
): Record<string, string> {
  const inherited = inherit.flatMap((name) => {
    const value = process.env[name];
    return value === undefined ? [] : [[name, value] as const];
  });
  return { ...Object.fromEntries(inherited), ...env };
}

/** How a child process ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** Its name in messages (and in its log file's name). */
  readonly name: string;
  /** The executable; default this Node.js. */
  readonly command?: string;
  readonly args: readonly string[];
  /** Its variables beyond the inherited ones (see childEnvironment). */
  readonly env?: Readonly<Record<string, string>>;
  /** The parent's variables it inherits; default INHERITED_VARIABLES, [] for none. */
  readonly inherit?: readonly string[];
  /** Default the repository root. */
  readonly cwd?: string;
  readonly uid?: number;
  readonly gid?: number;
  /** In a process group of its own, so a Ctrl-C meant for the parent's group does not reach it (default false). */
  readonly detached?: boolean;
  /** A folder (created if missing) whose file `<name>-<pid>.log` receives the whole output as well. */
  readonly logDir?: string;
  /** Each line of output as it arrives. */
  readonly onLine?: (line: string) => void;
  /** How long stop() waits after SIGTERM before SIGKILL, unless told otherwise (default 10 s). */
  readonly stopGraceMs?: number;
}

/** A running child process with its output (the last 100-200 kB) kept for failure messages. */
export class ManagedProcess {
  /** Every process still running, so that a crashed run does not leave children behind. */
  private static readonly running = new Set<ManagedProcess>();
  static {
    process.once('exit', () => {
      for (const p of ManagedProcess.running) p.child.kill('SIGKILL');
    });
  }

  private output = '';
  private failedToStart = false;
  /** Called after each chunk of output (waitForOutput's checks). */
  private readonly listeners = new Set<() => void>();
  private readonly file: WriteStream | undefined;
  /** Where the whole output is kept, with `logDir`. */
  readonly logFile: string | undefined;
  readonly exited: Promise<ExitStatus>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly options: StartProcessOptions,
  ) {
    if (options.logDir && child.pid !== undefined) {
      mkdirSync(options.logDir, { recursive: true });
      this.logFile = join(options.logDir, `${name.replace(/[^a-z0-9-]+/gi, '_')}-${child.pid}.log`);
      this.file = createWriteStream(this.logFile);
    }
    const capture = (chunk: Buffer) => {
      this.file?.write(chunk);
      const text = chunk.toString();
      if (options.onLine) for (const line of text.split('\n').filter(Boolean)) options.onLine(line);
      this.output += text;
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
      for (const listener of this.listeners) listener();
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => {
        this.output += `\n${error.message}`;
        // A child that could not be started never exits.
        if (child.pid === undefined) {
          this.failedToStart = true;
          resolve({ code: 127, signal: null });
        }
      });
    });
    ManagedProcess.running.add(this);
    void this.exited.then(() => {
      ManagedProcess.running.delete(this);
      this.file?.end();
    });
  }

  /** Starts `command args` with the child environment of `options` and its output piped. */
  static start(options: StartProcessOptions): ManagedProcess {
    const child = spawn(options.command ?? process.execPath, [...options.args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: childEnvironment(options.env, options.inherit),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    return new ManagedProcess(options.name, child, options);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get log(): string {
    return this.output;
  }

  /** The last `lines` lines of its output. */
  tail(lines = 30): string {
    return this.output.trim().split('\n').slice(-lines).join('\n');
  }

  get hasExited(): boolean {
    return this.failedToStart || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /**
   * Resolves once its output shows `text` (a server's "ready" line). Fails, and kills the process, if it exits first
   * or the text has not come within `timeoutMs`.
   */
  async waitForOutput(text: string, timeoutMs: number): Promise<void> {
    let check = () => undefined as void;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        check = () => {
          if (this.output.includes(text)) resolve();
        };
        this.listeners.add(check);
        check();
        timer = setTimeout(() => reject(new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
        void this.exited.then(({ code, signal }) =>
          reject(new Error(`${this.name} exited (${code ?? signal}) before it was ready:\n${this.output}`)),
        );
      });
    } catch (error) {
      this.child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
      this.listeners.delete(check);
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with how it exited. */
  async stop(graceMs = this.options.stopGraceMs ?? 10_000): Promise<ExitStatus> {
    if (this.hasExited) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The status and body of GET `url`; status 0 and no body while nothing answers (within `timeoutMs`). */
export async function httpAnswer(url: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: await response.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

/** A process with an HTTP probe: its base URL. */
export interface ProbedProcess {
  readonly name: string;
  readonly url: string;
  readonly process: ManagedProcess;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  /** The probe's path (default /health). */
  readonly path?: string;
  readonly intervalMs?: number;
  /** The output a failure message shows (default every target's). */
  readonly logs?: () => string;
  /** Told each answer other than 200 while waiting: the target's name, the status (0: no answer) and the body. */
  readonly onUnready?: (name: string, status: number, body: string) => void;
}

/**
 * Polls each target's probe until all answer 200. Fails at once if a process exits (it will not become healthy),
 * or at the deadline; either way with the processes' output.
 */
export async function waitUntilHealthy(targets: readonly ProbedProcess[], options: WaitOptions = {}): Promise<void> {
  const { timeoutMs = 60_000, path = '/health', intervalMs = 100 } = options;
  const logs = options.logs ?? (() => targets.map((t) => `----- ${t.name} -----\n${t.process.log}`).join('\n'));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const crashed = targets.filter((t) => t.process.hasExited).map((t) => t.name);
    if (crashed.length > 0) throw new Error(`${crashed.join(', ')} exited during start-up:\n${logs()}`);
    const answers = await Promise.all(targets.map((t) => httpAnswer(`${t.url}${path}`)));
    const statuses = answers.map((a) => a.status);
    for (const [i, { status, body }] of answers.entries())
      if (status !== 200) options.onUnready?.(targets[i]!.name, status, body);
    if (statuses.every((s) => s === 200)) return;
    if (Date.now() >= deadline) {
      const report = targets.map((t, i) => `${t.name}=${statuses[i] || 'no answer'}`).join(', ');
      throw new Error(`not healthy within ${timeoutMs} ms (${report}):\n${logs()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
