/**
 * Where the time goes, measured rather than guessed:
 * - summarizeCpuProfile reads a V8 `.cpuprofile` (from `node --cpu-prof`) and sums self time by function
 *   and by where the code lives (a package in node_modules, the app, libs/shared, node internals, GC);
 * - PostgresActivitySampler samples pg_stat_activity every few milliseconds and counts which statement
 *   each of a client's backends is running (or what it waits for): a statement-level profile of the
 *   database side, without pg_stat_statements.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { PG } from './config.js';
import { round, sleep } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CpuProfileSummary {
  /** Sampled CPU time in ms, idle excluded. */
  readonly busyMs: number;
  /** Share of busy time by where the code lives. */
  readonly byArea: { area: string; percent: number }[];
  /** Top functions by self time. */
  readonly topFunctions: { fn: string; area: string; percent: number }[];
}

function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.includes('/dist/apps/')) return 'app (apps/*)';
  if (url.includes('/dist/libs/')) return 'libs/shared';
  return url;
}

export function summarizeCpuProfile(path: string, top = 15): CpuProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const areas = new Map<string, number>();
  const functions = new Map<string, { area: string; us: number }>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const file = url.split('/').slice(-2).join('/');
    const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    const entry = functions.get(key) ?? { area, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const percent = (us: number) => round((100 * us) / busy, 1);
  return {
    busyMs: Math.round(busy / 1000),
    byArea: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, percent: percent(us) })),
    topFunctions: [...functions.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([fn, { area, us }]) => ({ fn, area, percent: percent(us) })),
  };
}

export interface StatementProfile {
  readonly samples: number;
  /** Share of samples in which a backend was busy (active) rather than idle or idle in transaction. */
  readonly statements: { statement: string; percent: number }[];
}

/** Samples what a client's backends are doing until stop(). */
export class PostgresActivitySampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private client: pg.Client | undefined;

  constructor(
    private readonly applicationName: string,
    private readonly intervalMs = 10,
  ) {}

  async start(): Promise<void> {
    this.client = new pg.Client({ ...PG, application_name: 'bench-sampler' });
    await this.client.connect();
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const { rows } = await this.client!.query<{ state: string; wait: string | null; query: string }>(
        `SELECT state, wait_event_type || ':' || wait_event AS wait, query FROM pg_stat_activity
          WHERE datname = $1 AND application_name = $2`,
        [PG.database, this.applicationName],
      );
      this.samples++;
      for (const row of rows) {
        const statement =
          row.state === 'active'
            ? `${row.query.replace(/\s+/g, ' ').trim().slice(0, 90)}${row.wait ? ` [${row.wait}]` : ''}`
            : `(${row.state})`;
        this.counts.set(statement, (this.counts.get(statement) ?? 0) + 1);
      }
      await sleep(this.intervalMs);
    }
  }

  async stop(top = 12): Promise<StatementProfile> {
    this.running = false;
    await this.loop;
    await this.client?.end();
    const total = [...this.counts.values()].reduce((s, n) => s + n, 0);
    return {
      samples: this.samples,
      statements: [...this.counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([statement, n]) => ({ statement, percent: round((100 * n) / total, 1) })),
    };
  }
}
