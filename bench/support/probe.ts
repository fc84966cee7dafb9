/**
 * CPU time and memory of processes, read from /proc (Linux): a process's utime+stime, its current RSS and
 * its peak RSS (VmHWM); the CPU of the PostgreSQL backends serving one client (found by application_name);
 * and the whole nats-server process (shared with anything else using it, so reported as such).
 */
import { readFileSync, readdirSync } from 'node:fs';
import type pg from 'pg';

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds a process has spent in user and in kernel (system) mode so far, or undefined if it is gone. */
export function cpuSplitMsOf(pid: number): { user: number; system: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(fields[11]) * 1000) / TICKS_PER_SECOND, system: (Number(fields[12]) * 1000) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds (user + system) a process has used so far, or undefined if it is gone. */
export function cpuMsOf(pid: number): number | undefined {
  const split = cpuSplitMsOf(pid);
  return split && split.user + split.system;
}

/** A line of /proc/<pid>/status in MiB (VmRSS, VmHWM), or undefined if the process is gone. */
function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export const rssMbOf = (pid: number) => statusMb(pid, 'VmRSS');
export const peakRssMbOf = (pid: number) => statusMb(pid, 'VmHWM');

/** The pid of the local nats-server, if one runs on this machine. */
export function natsServerPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'nats-server') return Number(entry);
    } catch {
      // raced with the process exiting
    }
  }
  return undefined;
}

/**
 * CPU used by the PostgreSQL backends of one client (database + application_name) between `start()` and
 * `stop()`. Backends come and go with the client's pool, so the list is re-read on every `sample()`; a
 * backend that exits between two samples loses its last interval (the pools here keep their connections
 * while busy, so this is small).
 */
export class PostgresBackendsCpu {
  private readonly startMs = new Map<number, number>();
  private readonly lastMs = new Map<number, number>();
  private started = false;

  constructor(
    private readonly admin: pg.Client,
    private readonly database: string,
    private readonly applicationName: string,
  ) {}

  private async pids(): Promise<number[]> {
    const { rows } = await this.admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
      [this.database, this.applicationName],
    );
    return rows.map((r) => r.pid);
  }

  async start(): Promise<void> {
    for (const pid of await this.pids()) {
      const ms = cpuMsOf(pid);
      if (ms !== undefined) {
        this.startMs.set(pid, ms);
        this.lastMs.set(pid, ms);
      }
    }
    this.started = true;
  }

  async sample(): Promise<void> {
    if (!this.started) return;
    for (const pid of await this.pids()) {
      const ms = cpuMsOf(pid);
      if (ms === undefined) continue;
      if (!this.startMs.has(pid)) this.startMs.set(pid, 0); // a backend born after start()
      this.lastMs.set(pid, ms);
    }
  }

  /** CPU ms used since start() by every backend seen. */
  usedMs(): number {
    let total = 0;
    for (const [pid, last] of this.lastMs) total += last - (this.startMs.get(pid) ?? last);
    return total;
  }
}

/**
 * CPU used by a set of processes (by label), their PostgreSQL backends, nats-server and this process
 * between begin() and end(): a CPU budget per unit of work when divided by the work done.
 */
/** The benchmark's own process, measured beside the system but not part of it. */
export const LOAD_GENERATOR = 'load generator';

export class CpuMeter {
  private readonly startMs = new Map<string, number>();
  private benchStart = process.cpuUsage();
  private readonly nats = natsServerPid();
  private readonly backends: PostgresBackendsCpu;

  constructor(
    private readonly pids: Record<string, number>,
    admin: pg.Client,
    database: string,
    applicationName: string,
  ) {
    this.backends = new PostgresBackendsCpu(admin, database, applicationName);
  }

  async begin(): Promise<void> {
    for (const [label, pid] of Object.entries(this.pids)) this.startMs.set(label, cpuMsOf(pid) ?? 0);
    if (this.nats !== undefined) this.startMs.set('nats-server', cpuMsOf(this.nats) ?? 0);
    this.benchStart = process.cpuUsage();
    await this.backends.start();
  }

  /** Call now and then while the work runs, so that short-lived backends are seen. */
  sample(): Promise<void> {
    return this.backends.sample();
  }

  /** CPU ms per label since begin(), each divided by `per`. */
  async end(per = 1): Promise<Record<string, number>> {
    await this.backends.sample();
    const used: Record<string, number> = {};
    for (const [label, pid] of Object.entries(this.pids)) used[label] = (cpuMsOf(pid) ?? 0) - this.startMs.get(label)!;
    if (this.nats !== undefined) used['nats-server'] = (cpuMsOf(this.nats) ?? 0) - this.startMs.get('nats-server')!;
    used.postgres = this.backends.usedMs();
    const bench = process.cpuUsage(this.benchStart);
    used[LOAD_GENERATOR] = (bench.user + bench.system) / 1000;
    return Object.fromEntries(Object.entries(used).map(([label, ms]) => [label, Math.round((ms / per) * 1000) / 1000]));
  }
}
