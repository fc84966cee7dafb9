/**
 * Asks the sync agent for the failover readiness of the pairs the load drives, all through the run, and keeps
 * every 200 answer with when its request was sent and when it arrived (readiness-oracle.ts judges them after the
 * run). Half the requests go to the pair of the unit the latest acknowledged write touched — an operator who just
 * changed a pair and asks whether it can fail over — and half to any associated pair.
 */
import { request, type HttpOptions } from './http.js';
import type { Random, Recorder } from './load.js';
import type { ReadinessAnswer } from './readiness-oracle.js';
import type { World } from './world.js';

interface ReportBody {
  pairId?: string;
  primarySerial?: string;
  secondarySerial?: string;
  ready?: boolean;
  gaps?: { code?: string; severity?: string }[];
}

/** Answers other than 200, by kind. */
export interface ReadinessPollCounts {
  ok: number;
  notFound: number;
  unavailable: number;
  other: number;
}

export class ReadinessPoller {
  readonly answers: ReadinessAnswer[] = [];
  readonly counts: ReadinessPollCounts = { ok: 0, notFound: 0, unavailable: 0, other: 0 };
  /** How often each blocking gap code was given, over every 200 answer. */
  readonly gapCodes = new Map<string, number>();
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly world: World,
    private readonly recorder: Recorder,
    private readonly syncAgentUrl: string,
    private readonly http: HttpOptions,
    private readonly random: Random,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stopping = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const pairId = this.choose();
      if (pairId) await this.ask(pairId);
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
  }

  private choose(): string | undefined {
    if (this.random.chance(0.5)) {
      const observations = this.recorder.observations;
      for (let i = observations.length - 1; i >= Math.max(0, observations.length - 20); i--) {
        const o = observations[i]!;
        if (!o.write || o.reply.outcome !== 'ok') continue;
        const pair = o.units.map((unit) => this.world.activePairOf(unit)).find((p) => p !== undefined);
        if (pair) return pair.pair.pairId;
      }
    }
    const associated = [...this.world.pairs.values()].filter((p) => p.pair.status === 'associated');
    return associated.length > 0 ? this.random.pick(associated).pair.pairId : undefined;
  }

  private async ask(pairId: string): Promise<void> {
    const reply = await request(this.http, this.syncAgentUrl, 'GET', `/pairs/${pairId}/failover-readiness`);
    this.recorder.record('sync-agent', 'readiness', false, reply);
    if (reply.status === 404) this.counts.notFound++;
    else if (reply.status === 503 || reply.outcome === 'refused' || reply.outcome === 'indeterminate') this.counts.unavailable++;
    if (reply.status !== 200) {
      if (reply.status !== 404 && reply.status !== 503 && reply.status !== 0) this.counts.other++;
      return;
    }
    const body = reply.body as ReportBody;
    if (typeof body.ready !== 'boolean' || !body.primarySerial || !body.secondarySerial) {
      this.counts.other++;
      return;
    }
    this.counts.ok++;
    const gaps = (body.gaps ?? []).filter((g) => g.severity === 'blocking').map((g) => g.code ?? '?');
    for (const code of gaps) this.gapCodes.set(code, (this.gapCodes.get(code) ?? 0) + 1);
    this.answers.push({
      pairId,
      primarySerial: body.primarySerial,
      secondarySerial: body.secondarySerial,
      ready: body.ready,
      gaps,
      sentTick: reply.sentTick,
      sentAt: reply.startedAt,
      arrivedAt: reply.endedAt,
    });
  }
}
