/**
 * The durable expiry scheduler: records each license's expiry (change 'expired') at its instant and announces
 * each expiry once when it enters the warning window (EntitlementExpiringSoon).
 *
 * Durable because it keeps no state of its own: what is due is read from licenses_view (which says which
 * expiry was already warned about or recorded), so whatever fell due while the service was down is caught up
 * at the next start. Every action is a command through handleCommand, in its own transaction with optimistic
 * concurrency, and the decider does nothing for an expiry already acted on: two instances, a retry, or a crash
 * between the query and the append can never emit an event twice.
 */
import { type OnApplicationShutdown } from '@nestjs/common';
import { handleCommand, warningStartsAt, warningWindowEndAt, type Clock, type EventStore, type Tx } from '#shared';
import type { RecordExpiry, WarnExpiringSoon } from '../../domain/license/license.commands.js';
import { licenseDecider } from '../../domain/license/license.decide.js';
import { licenseStreamId } from '../../domain/license/license.events.js';
import { projectLicense } from '../licenses.js';

export interface ExpirySchedulerOptions {
  /** The warning window in days (config.expiryWarningDays). */
  readonly windowDays: number;
  /** The longest sleep between rounds, so expiries from other instances' grants are seen (default 60 s). */
  readonly maxSleepMs?: number;
  /** The most licenses of each kind one round acts on before it starts another (default 200). */
  readonly batchSize?: number;
  readonly log?: (message: string) => void;
}

/** What one round did, and when the next thing falls due. */
export interface RoundResult {
  readonly expired: number;
  readonly warned: number;
  readonly failed: number;
  /** The next instant an expiry or a warning-window entry is due, or null if nothing is pending. */
  readonly nextDueAt: Date | null;
  /** A batch was full: more may be due already. */
  readonly more: boolean;
}

const DEFAULT_MAX_SLEEP_MS = 60_000;
const DEFAULT_BATCH_SIZE = 200;

export class ExpiryScheduler implements OnApplicationShutdown {
  private readonly maxSleepMs: number;
  private readonly batchSize: number;
  private readonly log: (message: string) => void;
  private loop: Promise<void> | undefined;
  private stopped = false;
  /** The earliest instant (ms) nudge() reported while a round ran: the round may have read before that commit. */
  private nudgedDueAt = Infinity;
  /** While asleep: the instant (ms) the scheduler wakes up by itself. */
  private sleepingUntil: number | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly options: ExpirySchedulerOptions,
  ) {
    this.maxSleepMs = options.maxSleepMs ?? DEFAULT_MAX_SLEEP_MS;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.log = options.log ?? ((message) => console.log(`[expiry-scheduler] ${message}`));
  }

  /** Starts the loop in the background: catch up on everything due, then sleep until the next due instant. */
  start(): void {
    if (this.loop || this.stopped) return;
    this.log(`started (warning window ${this.options.windowDays} days)`);
    this.loop = this.run();
  }

  /**
   * A grant or renewal committed a license expiring at `expiresAt` (ISO; null = perpetual). Its first due instant
   * is its entry into the warning window (its expiry comes later); the scheduler wakes now only when that is
   * before its planned wake-up. Waking for every grant made each one cost a whole round (two transactions, three
   * queries) under load, although almost no license is due within the next minute.
   */
  nudge(expiresAt: string | null): void {
    if (expiresAt === null) return;
    const dueAt = warningStartsAt(expiresAt, this.options.windowDays).getTime();
    if (this.sleepingUntil === undefined) {
      this.nudgedDueAt = Math.min(this.nudgedDueAt, dueAt);
    } else if (dueAt < this.sleepingUntil) {
      this.nudgedDueAt = dueAt;
      this.wake?.();
    }
  }

  /** Stops the loop, letting a round in progress finish its current command. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /**
   * One round: records every expiry that has passed and is not recorded, warns about every expiry in the window
   * not yet warned about, then reports the next due instant. Public so tests can drive it with their own clock.
   */
  async runRound(): Promise<RoundResult> {
    const { windowDays } = this.options;
    const now = this.clock.now();
    const due = await this.store.transaction((tx) => dueWork(tx, now, windowDays, this.batchSize));
    let expired = 0;
    let warned = 0;
    let failed = 0;
    for (const licenseId of due.expiries) {
      if (this.stopped) break;
      const command = (): RecordExpiry => ({ type: 'RecordExpiry', data: { licenseId }, metadata: { now: this.clock.now() } });
      const outcome = await this.act(licenseId, command);
      if (outcome === 'failed') failed++;
      else expired += outcome;
    }
    for (const licenseId of due.warnings) {
      if (this.stopped) break;
      const command = (): WarnExpiringSoon => ({
        type: 'WarnExpiringSoon',
        data: { licenseId, windowDays },
        metadata: { now: this.clock.now() },
      });
      const outcome = await this.act(licenseId, command);
      if (outcome === 'failed') failed++;
      else warned += outcome;
    }
    if (expired > 0 || warned > 0) this.log(`recorded ${expired} expiries, ${warned} warnings`);
    // After the same instant as the due work: with a later one, an expiry falling between the two would be
    // neither due nor next, and would wait for the longest sleep.
    const nextDueAt = await this.store.transaction((tx) => nextDueInstant(tx, now, windowDays));
    const more = due.expiries.length >= this.batchSize || due.warnings.length >= this.batchSize;
    return { expired, warned, failed, nextDueAt, more };
  }

  /** One command in its own transaction; the number of events it appended (0: already done elsewhere). */
  private async act(licenseId: string, command: () => RecordExpiry | WarnExpiringSoon): Promise<number | 'failed'> {
    try {
      const { events } = await handleCommand({
        store: this.store,
        decider: licenseDecider,
        streamId: licenseStreamId(licenseId),
        // Built inside the transaction, so `now` is taken after the stream was read.
        command: () => Promise.resolve(command()),
        afterAppend: projectLicense,
      });
      return events.length;
    } catch (error) {
      if (!this.stopped) this.log(`${command().type} of license ${licenseId} failed: ${(error as Error).message}`);
      return 'failed';
    }
  }

  private async run(): Promise<void> {
    let failedRounds = 0;
    while (!this.stopped) {
      // A commit nudged before this round's queries is seen by them; only later nudges can plan an earlier wake-up.
      this.nudgedDueAt = Infinity;
      let wakeAt: number;
      try {
        const round = await this.runRound();
        const now = this.clock.now().getTime();
        failedRounds = round.failed > 0 ? failedRounds + 1 : 0;
        wakeAt = round.more ? now : Math.min(round.nextDueAt?.getTime() ?? Infinity, now + this.maxSleepMs);
        // A license that keeps failing stays due; back off instead of retrying it in a tight loop.
        if (failedRounds > 0) wakeAt = Math.max(wakeAt, now + this.backoffMs(failedRounds));
      } catch (error) {
        if (this.stopped) break;
        failedRounds++;
        const delay = this.backoffMs(failedRounds);
        this.log(`round failed, retrying in ${delay} ms: ${(error as Error).message}`);
        wakeAt = this.clock.now().getTime() + delay;
      }
      await this.sleepUntil(Math.min(wakeAt, this.nudgedDueAt));
    }
  }

  private backoffMs(failedRounds: number): number {
    return Math.min(500 * 2 ** (failedRounds - 1), this.maxSleepMs);
  }

  private sleepUntil(at: number): Promise<void> {
    const now = this.clock.now().getTime();
    const delay = Math.min(at - now, this.maxSleepMs);
    if (this.stopped || delay <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.sleepingUntil = undefined;
        resolve();
      };
      const timer = setTimeout(done, delay);
      this.sleepingUntil = now + delay;
      this.wake = done;
    });
  }
}

/** The licenses due now: expiries passed and not recorded, expiries in the window not warned about; soonest first. */
export async function dueWork(
  tx: Tx,
  now: Date,
  windowDays: number,
  limit: number,
): Promise<{ expiries: string[]; warnings: string[] }> {
  // The conditions repeat the partial indexes' predicates word for word, so the planner can use them. They are
  // the shared rules in SQL: expired is `expires_at <= now` (hasExpiredAt), expiring soon is
  // `now < expires_at <= the window's end` (isExpiringSoonAt); the window's end comes from the same function.
  const expiries: { license_id: string }[] = await tx.query(
    `SELECT license_id FROM licenses_view
     WHERE status = 'active' AND expiry_recorded_for IS DISTINCT FROM expires_at AND expires_at <= $1
     ORDER BY expires_at LIMIT $2`,
    [now, limit],
  );
  const warnings: { license_id: string }[] = await tx.query(
    `SELECT license_id FROM licenses_view
     WHERE status = 'active' AND warned_for IS DISTINCT FROM expires_at AND expires_at > $1 AND expires_at <= $2
     ORDER BY expires_at LIMIT $3`,
    [now, warningWindowEndAt(now, windowDays), limit],
  );
  return { expiries: expiries.map((r) => r.license_id), warnings: warnings.map((r) => r.license_id) };
}

/**
 * The next instant something falls due after `now`: the soonest unrecorded expiry, or the soonest entry into
 * the warning window (an expiry `windowDays` days earlier) not yet warned about. Null if neither exists.
 */
export async function nextDueInstant(tx: Tx, now: Date, windowDays: number): Promise<Date | null> {
  const [row]: { next_expiry: Date | null; next_warned_expiry: Date | null }[] = await tx.query(
    `SELECT
       (SELECT min(expires_at) FROM licenses_view
        WHERE status = 'active' AND expiry_recorded_for IS DISTINCT FROM expires_at AND expires_at > $1) AS next_expiry,
       (SELECT min(expires_at) FROM licenses_view
        WHERE status = 'active' AND warned_for IS DISTINCT FROM expires_at AND expires_at > $2) AS next_warned_expiry`,
    [now, warningWindowEndAt(now, windowDays)],
  );
  const candidates = [
    row?.next_expiry?.getTime(),
    row?.next_warned_expiry ? warningStartsAt(row.next_warned_expiry, windowDays).getTime() : undefined,
  ].filter((t): t is number => t !== undefined);
  return candidates.length === 0 ? null : new Date(Math.min(...candidates));
}
