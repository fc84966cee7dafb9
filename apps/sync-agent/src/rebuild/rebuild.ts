/**
 * Rebuilds the effective-licenses projection from the start of the PAIRING and LICENSING streams into new
 * tables and switches over without downtime, while the live sync agent keeps serving and projecting:
 *
 * 1. shadow tables (`<schema>_rebuild`) shaped like the live ones;
 * 2. temporary durable consumers `sync-agent-rebuild` read both streams from their first message through the same
 *    projectBatch as the live agent, told not to publish: no EffectiveLicensesChanged / StatefulSyncChanged,
 *    the sync agent's outbox (which holds each published set) and `stateful_sync_published` stay as they are;
 * 3. once they have caught up, the rebuild takes the advisory lock the live projector takes for every batch (the
 *    live agent's next batch waits), consumes the last events, compares old and new tables, and in the same
 *    transaction moves the old tables to `<schema>_old_<date>` and the new ones into the schema;
 * 4. the lock is released: the live agent's waiting batch runs against the new tables, and its inbox absorbs
 *    whatever the rebuild had already applied.
 * If the comparison finds a difference the catch-up cannot explain, nothing is switched (exit 1).
 */
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import {
  BatchingConsumer,
  EventStore,
  busNames,
  connectNats,
  createDataSource,
  ensureDurableConsumer,
  loadEventKeyRing,
  verifiedEventDecoders,
  SignatureVerifier,
  pgClientConfig,
  systemClock,
  type Clock,
  type DurableConsumerSpec,
  type EventEnvelope,
  type ServiceConfig,
} from '#shared';
import { projectBatch } from '../read-models/effective-licenses/effective-licenses.projector.js';
import { projectionConsumers } from '../facts/projection-consumers.js';
import {
  compareProjections,
  formatComparison,
  unexplainedDifferences,
  type ProjectionComparison,
} from './compare-projections.js';
import {
  createShadowTables,
  holdProjectorLock,
  missingLiveTables,
  rebuildSchemas,
  swapTables,
  type RebuildSchemas,
} from './rebuild-tables.js';

/** The durable consumer name of a rebuild (one per source stream, deleted when it ends). */
export const REBUILD_DURABLE = 'sync-agent-rebuild';

export interface RebuildOptions {
  /** The sync agent's configuration: its database and schema, NATS and bus namespace. */
  readonly config: ServiceConfig;
  /** Drop the old tables after the switch-over instead of keeping them in `<schema>_old_<date>`. */
  readonly dropOld?: boolean;
  /** Where progress and the comparison are printed (default: stdout). */
  readonly log?: (line: string) => void;
  readonly progressIntervalMs?: number;
  /** At most this many events are left to apply while the live projector waits (default 500). */
  readonly catchUpUnderLock?: number;
  readonly clock?: Clock;
  /** The NATS connection to read with (the rebuild command's bus module); without one it connects its own. */
  readonly nats?: NatsConnection;
}

export interface RebuildResult {
  /** True when the new tables are live. */
  readonly swapped: boolean;
  readonly schemas: RebuildSchemas;
  /** Events the rebuild consumed, by outcome. */
  readonly outcome: RebuildCounts;
  readonly eventsPerSecond: number;
  readonly comparison: ProjectionComparison | null;
  /** How long the live projector was held (catch-up, comparison, switch-over). */
  readonly pausedMs: number;
  /** Where the old tables are, or null when they were dropped (or nothing was switched). */
  readonly oldTablesSchema: string | null;
}

/** The rebuild could not run, or refused to switch over; the message says why. */
export class RebuildError extends Error {
  constructor(
    message: string,
    readonly comparison: ProjectionComparison | null = null,
  ) {
    super(message);
    this.name = 'RebuildError';
  }
}

/** The temporary consumers: the live agent's, under another durable name. */
export function rebuildConsumers(config: ServiceConfig): DurableConsumerSpec[] {
  return projectionConsumers(busNames(config.busNamespace)).map((spec) => ({ ...spec, durable: REBUILD_DURABLE }));
}

/** Runs a whole rebuild; see the file comment. Throws RebuildError when it did not switch over. */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { config } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const clock = options.clock ?? systemClock;
  const startedAt = Date.now();
  const schemas = rebuildSchemas(config.postgres.schema, new Date(startedAt));
  const admin = new pg.Client(pgClientConfig(config.postgres));
  await admin.connect();
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  const specs = rebuildConsumers(config);
  try {
    const missing = await missingLiveTables(admin, schemas.live);
    if (missing.length > 0) {
      throw new RebuildError(
        `schema "${schemas.live}" has no ${missing.join(', ')} table: start the sync agent once so that it migrates it`,
      );
    }
    const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      `${schemas.live}.rebuild`,
    ]);
    if (!rows[0]?.ok) throw new RebuildError(`another rebuild of schema "${schemas.live}" is running`);

    await createShadowTables(admin, schemas);
    log(`rebuild: new tables in schema ${schemas.shadow}; reading ${specs.map((s) => s.stream).join(' and ')} from the start`);

    nc = options.nats ?? (await connectNats(config.nats, 'sync-agent-rebuild'));
    jsm = await jetstreamManager(nc);
    for (const spec of specs) await deleteConsumer(jsm, spec);
    for (const spec of specs) await ensureDurableConsumer(jsm, spec);

    const shadow = createDataSource({ ...config.postgres, schema: schemas.shadow }, []);
    await shadow.initialize();
    try {
      return await rebuildInto(
        { admin, jsm, nc, shadow: new EventStore(shadow), specs, schemas, log, clock, startedAt },
        options,
      );
    } finally {
      await shadow.destroy();
    }
  } finally {
    if (jsm) for (const spec of specs) await deleteConsumer(jsm, spec).catch(() => undefined);
    if (nc !== options.nats) await nc?.close();
    await admin.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    await admin.end();
  }
}

interface RebuildContext {
  readonly admin: pg.Client;
  readonly jsm: JetStreamManager;
  readonly nc: NatsConnection;
  readonly shadow: EventStore;
  readonly specs: readonly DurableConsumerSpec[];
  readonly schemas: RebuildSchemas;
  readonly log: (line: string) => void;
  readonly clock: Clock;
  readonly startedAt: number;
}

/**
 * What the rebuild did with the events it consumed. Replays and stale versions change nothing here, as in the
 * live agent, but are only counted: the live agent already dead-lettered them.
 */
export interface RebuildCounts {
  applied: number;
  redelivered: number;
  replayed: number;
  stale: number;
}

async function rebuildInto(ctx: RebuildContext, options: RebuildOptions): Promise<RebuildResult> {
  const { admin, schemas, log } = ctx;
  const outcome: RebuildCounts = { applied: 0, redelivered: 0, replayed: 0, stale: 0 };
  const { verification } = loadEventKeyRing(options.config.eventKeys, 'sync-agent');
  const names = busNames(options.config.busNamespace);
  const verifier = new SignatureVerifier(verification);
  const consumer = new BatchingConsumer(
    jetstream(ctx.nc),
    ctx.specs,
    async (batch: readonly EventEnvelope[], positions) => {
      const counts = await projectBatch(
        ctx.shadow,
        ctx.clock,
        batch,
        { warningWindowDays: options.config.expiryWarningDays, publish: false },
        positions,
      );
      outcome.applied += counts.applied;
      outcome.redelivered += counts.redelivered;
      for (const { reason } of counts.refused) outcome[reason === 'REPLAYED' ? 'replayed' : 'stale']++;
    },
    {
      applied: () => undefined,
      rejected: (reason, subject) => log(`rebuild: skipped an invalid message on ${subject}: ${reason}`),
      failed: () => undefined,
    },
    // The live agent's decoders: only events signed by their producer count (a forgery it refused stays refused).
    verifiedEventDecoders(verification, names, verifier),
  );
  const consumed = () => outcome.applied + outcome.redelivered + outcome.replayed + outcome.stale;
  let stopped = false;
  const stop = async () => {
    if (!stopped) await consumer.stop();
    stopped = true;
  };
  try {
    await consumer.start();
    const interval = options.progressIntervalMs ?? 2_000;
    // Close enough to the end that what is left is quick to apply while the live projector waits.
    await until(ctx, consumed, interval, (ps) => ps.reduce((sum, p) => sum + p.behind, 0) <= (options.catchUpUnderLock ?? 500));

    // The switch-over: one transaction that holds the live projector's lock from the last events to the rename.
    log('rebuild: caught up; pausing the live projector to apply the last events and compare');
    const pausedAt = Date.now();
    await admin.query('BEGIN');
    try {
      await holdProjectorLock(admin, schemas.live);
      // Every batch the live agent committed came from messages up to the streams' ends now: once the rebuild
      // has applied those too, its tables have seen every event the live ones have.
      const ends = new Map((await positions(ctx)).map((p) => [p.stream, p.end]));
      await until(ctx, consumed, interval, (ps) => ps.every((p) => p.done >= (ends.get(p.stream) ?? 0)));
      await stop();
      const comparison = await compareProjections(admin, schemas);
      log('rebuild: live tables vs rebuilt tables (caught up = events the live agent had not applied yet):');
      for (const line of formatComparison(comparison)) log(line);
      const unexplained = unexplainedDifferences(comparison);
      if (unexplained > 0) {
        throw new RebuildError(
          `${unexplained} difference(s) between the live and the rebuilt projection that the catch-up does not explain; ` +
            `nothing was switched (the rebuilt tables stay in schema ${schemas.shadow} for inspection)`,
          comparison,
        );
      }
      const { lockAttempts } = await swapTables(admin, schemas);
      await admin.query('COMMIT');
      const pausedMs = Date.now() - pausedAt;
      log(
        `rebuild: switched over; the live projector was paused ${pausedMs} ms` +
          (lockAttempts > 1 ? ` (${lockAttempts} attempts to lock the tables past readers)` : ''),
      );
      await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schemas.shadow)}`);
      let oldTablesSchema: string | null = schemas.archive;
      if (options.dropOld) {
        await admin.query(`DROP SCHEMA ${pg.escapeIdentifier(schemas.archive)} CASCADE`);
        oldTablesSchema = null;
        log(`rebuild: dropped the old tables (--drop-old)`);
      } else {
        log(`rebuild: the old tables are kept in schema ${schemas.archive} (drop it when no longer needed)`);
      }
      const seconds = Math.max(0.001, (Date.now() - ctx.startedAt) / 1000);
      const eventsPerSecond = Math.round(consumed() / seconds);
      log(
        `rebuild: done: ${consumed()} events (${outcome.applied} applied, ${outcome.redelivered} redelivered, ${outcome.replayed} replayed, ${outcome.stale} stale) ` +
          `in ${seconds.toFixed(1)} s, ${eventsPerSecond} events/s`,
      );
      return { swapped: true, schemas, outcome, eventsPerSecond, comparison, pausedMs, oldTablesSchema };
    } catch (error) {
      await admin.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await stop();
    await verifier.close();
  }
}

/** Where a rebuild consumer is: everything up to `done` is applied; `end` is the stream's last message. */
interface Position {
  readonly stream: string;
  readonly done: number;
  readonly end: number;
  readonly behind: number;
}

async function positions(ctx: RebuildContext): Promise<Position[]> {
  return Promise.all(
    ctx.specs.map(async (spec) => {
      const [info, stream] = await Promise.all([
        ctx.jsm.consumers.info(spec.stream, spec.durable),
        ctx.jsm.streams.info(spec.stream),
      ]);
      return {
        stream: spec.stream,
        done: info.ack_floor.stream_seq,
        end: stream.state.last_seq,
        behind: info.num_pending + info.num_ack_pending,
      };
    }),
  );
}

/**
 * Waits, printing progress, until `reached` holds for the rebuild consumers' positions. A consumer's position is
 * its ack floor: the projection committed every message up to it (acks follow commits).
 */
async function until(
  ctx: RebuildContext,
  consumed: () => number,
  intervalMs: number,
  reached: (positions: readonly Position[]) => boolean,
): Promise<void> {
  let last = { at: Date.now(), count: consumed() };
  let lastPrinted = 0;
  for (let round = 0; ; round++) {
    const now = Date.now();
    const current = await positions(ctx);
    const done = reached(current);
    if (round === 0 || (!done && now - lastPrinted >= intervalMs)) {
      const count = consumed();
      const rate = now > last.at ? Math.round(((count - last.count) * 1000) / (now - last.at)) : 0;
      ctx.log(
        `rebuild: ${count} events, ${rate} events/s; ` +
          current.map((p) => `${p.stream} at ${p.done} of ${p.end} (${p.behind} to go)`).join(', '),
      );
      last = { at: now, count };
      lastPrinted = now;
    }
    if (done) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function deleteConsumer(jsm: JetStreamManager, spec: DurableConsumerSpec): Promise<void> {
  try {
    await jsm.consumers.delete(spec.stream, spec.durable);
  } catch (error) {
    if (!/consumer not found|stream not found/i.test((error as Error).message)) throw error;
  }
}
