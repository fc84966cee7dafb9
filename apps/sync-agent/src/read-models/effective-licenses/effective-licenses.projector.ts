/**
 * The effective-licenses read model, updated ASYNCHRONOUSLY from the bus: pairing and licensing events
 * arrive through durable JetStream consumers, in any order relative to each other, possibly more than once.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  CLOCK,
  EventStore,
  SERVICE_CONFIG,
  ServiceMetrics,
  eventMetadataOf,
  queryPrepared,
  repeatKind,
  replayDetail,
  type BatchHandler,
  type Clock,
  type EventEnvelope,
  type EventMetadata,
  type RefusedEvent,
  type ServiceConfig,
  type StreamPosition,
  type Tx,
} from '#shared';
import {
  applyEvents,
  namedLicenseIds,
  namedSerials,
  storedSerialsOf,
  type EffectiveSetOptions,
} from '../../domain/effective-licenses/projection.js';
import {
  decidePublication,
  publicationScope,
  type FoldedBatch,
  type PublishedSet,
} from '../../domain/effective-licenses/publication.js';
import { loadNamedFacts, loadWorkingSet, saveChangedFacts } from '../../facts/facts-store.js';
import { recordInInbox } from '../../facts/inbox.js';
import { PublishedSetCache, loadPublishedSets, loadPublishedStatefulSync, savePublishedStatefulSync } from './published-store.js';

const PROJECTOR_LOCK_SUFFIX = '.effective-licenses-projector';
/** The advisory lock every projector batch of `schema` takes first (the rebuild takes it to switch over). */
export const projectorLockKey = (schema: string): string => `${schema}${PROJECTOR_LOCK_SUFFIX}`;

/**
 * How a batch's events counted: applied; redelivered (the very message that applied the event, delivered again:
 * harmless, acknowledged); or refused, to be dead-lettered by the consumer: a replay (an event id applied before,
 * from another message) or a stale version (not newer than the one held).
 */
export interface BatchOutcome {
  applied: number;
  redelivered: number;
  refused: RefusedEvent[];
}

/**
 * Options of projectBatch besides the effective-set ones. `publish: false` (the rebuild) writes only
 * the facts and the inbox: no EffectiveLicensesChanged / StatefulSyncChanged and no stateful-sync status.
 */
export interface ProjectBatchOptions extends EffectiveSetOptions {
  readonly publish?: boolean;
  /** Events projected on one working set (default PROJECTION_SLICE). */
  readonly sliceSize?: number;
  /** Called once the batch committed, with the events it applied (not the redelivered or refused ones). */
  readonly onCommitted?: (applied: readonly EventEnvelope[]) => void;
  /** The sets published before, kept between batches: given, the outbox is read only for what it lacks. */
  readonly publishedSets?: PublishedSetCache;
}

/** The published sets a batch read or wrote, by serial: kept in the PublishedSetCache once the batch commits. */
type SeenSets = [serial: string, published: PublishedSet][];

/**
 * Applies a batch of events in one transaction: each event counts once (inbox, which also keeps it for "as of"
 * queries), each product, pair and license keeps its newest version, replacements are recorded, every product
 * whose effective set changed gets an EffectiveLicensesChanged in the outbox, and every pair whose stateful
 * synchronization changed gets a StatefulSyncChanged. The caller acks the batch only after this commits, and
 * dead-letters the events it refused. `positions` (parallel to `batch`) tell a redelivery from a replay.
 */
export async function projectBatch(
  store: EventStore,
  clock: Clock,
  batch: readonly EventEnvelope[],
  options: ProjectBatchOptions = {},
  positions: readonly StreamPosition[] = [],
): Promise<BatchOutcome> {
  const counts: BatchOutcome = { applied: 0, redelivered: 0, refused: [] };
  const applied: EventEnvelope[] = [];
  const seen: SeenSets = [];
  await store.transaction(async (tx) => {
    // One projector transaction at a time per schema, so two instances never interleave a
    // read-compute-write of the same effective set.
    await queryPrepared(tx, 'sync-agent.projector-lock', 'SELECT pg_advisory_xact_lock(hashtext(current_schema() || $1))', [
      PROJECTOR_LOCK_SUFFIX,
    ]);
    Object.assign(counts, { applied: 0, redelivered: 0, refused: [] });
    applied.length = 0;
    seen.length = 0;
    // Slice by slice, so that what is held in memory at once is one slice's working set, however big the batch:
    // each slice sees what the slices before it wrote in this transaction, as a later batch would. When sets are
    // published, a pair's events go into the same slice, so that its two sets are still published once per batch.
    const slice = options.sliceSize ?? PROJECTION_SLICE;
    const grouped = batch.length > slice && options.publish !== false;
    const order = grouped ? await orderByPair(tx, batch) : batch.map((_, index) => index);
    for (let from = 0; from < order.length; from += slice) {
      await projectSlice(tx, store, clock, batch, positions, order.slice(from, from + slice), options, counts, applied, seen);
    }
  });
  for (const [serial, published] of seen) options.publishedSets?.remember(serial, published);
  options.onCommitted?.(applied);
  return counts;
}

/**
 * Events projected on one working set. The working set of a slice is the licenses of the products it names and
 * of their peers, so a batch of thousands of events on as many products would otherwise hold nearly every license
 * at once, and more as licenses accumulate.
 */
export const PROJECTION_SLICE = 1_000;

/**
 * The batch's indexes with the events of each pair together, pairs in order of first appearance, and every
 * event of a stream in the group of its stream's first event, in their order. Events of different streams commute
 * (each entity keeps its newest version), so which events share a slice changes only how often a set is
 * published, never what it ends up as.
 */
async function orderByPair(tx: Tx, batch: readonly EventEnvelope[]): Promise<number[]> {
  const serials = [...new Set(batch.flatMap(namedSerials))];
  const peers: { primary_serial: string; secondary_serial: string }[] = await queryPrepared(
    tx,
    'sync-agent.active-pairs-of',
    `SELECT primary_serial, secondary_serial FROM pairs WHERE status = 'associated'
      AND (primary_serial = ANY($1::text[]) OR secondary_serial = ANY($1::text[]))`,
    [serials],
  );
  const pairOf = new Map<string, string>();
  for (const p of peers) pairOf.set(p.primary_serial, p.primary_serial).set(p.secondary_serial, p.primary_serial);
  const groups = new Map<string, number[]>();
  // A stream's events stay in one group, in their order: an event must never overtake an older version of its entity.
  const groupOfStream = new Map<string, string>();
  for (const [index, event] of batch.entries()) {
    const serial = namedSerials(event)[0] ?? '';
    const key = groupOfStream.get(event.streamId) ?? pairOf.get(serial) ?? serial;
    groupOfStream.set(event.streamId, key);
    const group = groups.get(key);
    if (group) group.push(index);
    else groups.set(key, [index]);
  }
  return [...groups.values()].flat();
}

/** projectBatch for the events of `batch` at `indexes`, inside its transaction; indexes in `counts` are the batch's. */
async function projectSlice(
  tx: Tx,
  store: EventStore,
  clock: Clock,
  batch: readonly EventEnvelope[],
  positions: readonly StreamPosition[],
  indexes: readonly number[],
  options: ProjectBatchOptions,
  counts: BatchOutcome,
  appliedEvents: EventEnvelope[],
  seen: SeenSets,
): Promise<void> {
  const firstIndexOf = new Map<string, number>();
  for (const index of indexes) {
    const { eventId } = batch[index]!;
    if (!firstIndexOf.has(eventId)) firstIndexOf.set(eventId, index);
  }
  const unique = [...firstIndexOf.values()].map((index) => batch[index]!);
  // Publishing needs every license of the serials and their peers; the rebuild only the versions of what is named.
  const load = options.publish === false ? loadNamedFacts : loadWorkingSet;
  const before = await load(tx, [...new Set(unique.flatMap(namedSerials))], [...new Set(unique.flatMap(namedLicenseIds))]);
  const known = await recordInInbox(
    tx,
    unique.map((event) => ({ event, source: positions[firstIndexOf.get(event.eventId)!] })),
    (e) => [...new Set([...namedSerials(e), ...storedSerialsOf(before, e)])].sort(),
  );
  // Each event already in the inbox (before this slice, or earlier in it) is a redelivery of the message that
  // brought it, or else a replay.
  for (const index of indexes) {
    const event = batch[index]!;
    const first = firstIndexOf.get(event.eventId)!;
    if (first === index && !known.has(event.eventId)) continue;
    const original = first === index ? known.get(event.eventId)! : (positions[first] ?? null);
    if (repeatKind(original, positions[index]) === 'redelivery') counts.redelivered++;
    else counts.refused.push({ index, reason: 'REPLAYED', detail: replayDetail(event, original) });
  }
  const events = unique.filter((e) => !known.has(e.eventId));
  if (events.length === 0) return;

  const { state, folded } = applyEvents(before, events);
  for (const { event, applied } of folded) {
    if (!applied) {
      counts.refused.push({
        index: firstIndexOf.get(event.eventId)!,
        reason: 'STALE_VERSION',
        detail: `${event.type} version ${event.streamVersion} of ${event.streamId} is not newer than the version held`,
      });
      continue;
    }
    counts.applied++;
    appliedEvents.push(event);
  }
  await saveChangedFacts(tx, before, state);
  if (options.publish === false) return; // the rebuild: facts only, the outbox stays as it is
  await publish(store, tx, { state, folded }, clock.now(), options, seen);
}

/**
 * Loads what was last published for what the slice touched, asks decidePublication what to publish, and writes it:
 * the EffectiveLicensesChanged in one statement (the outbox is where a later batch finds them when its
 * PublishedSetCache does not hold them), then each StatefulSyncChanged and its status.
 */
async function publish(
  store: EventStore,
  tx: Tx,
  batch: FoldedBatch,
  now: Date,
  options: ProjectBatchOptions,
  seen: SeenSets,
): Promise<void> {
  const scope = publicationScope(batch);
  const published = {
    sets: await loadPublishedSets(tx, scope.serials, options.publishedSets),
    statefulSync: await loadPublishedStatefulSync(tx, scope.pairIds),
  };
  const { effectiveSets, statefulSync } = decidePublication(batch, published, now, options);
  seen.push(...published.sets);
  for (const { set, expectedVersion } of effectiveSets) seen.push([set.serial, { set, version: expectedVersion + 1 }]);
  const context = (cause: EventEnvelope) => ({ occurredAt: now, metadata: derivedMetadata(cause) });
  await store.appendToStreams(
    tx,
    effectiveSets.map(({ streamId, expectedVersion, event, cause }) => ({
      streamId,
      expectedVersion,
      events: [event],
      context: context(cause),
    })),
  );
  for (const { streamId, expectedVersion, event, cause, pair, status } of statefulSync) {
    await store.append(tx, streamId, expectedVersion, [event], context(cause));
    await savePublishedStatefulSync(tx, pair, status, expectedVersion + 1);
  }
}

/** A derived event's metadata: the cause's correlation and actor (who made the change it follows from), caused by it. */
function derivedMetadata(cause: EventEnvelope): EventMetadata {
  return eventMetadataOf({
    correlationId: cause.metadata.correlationId,
    causationId: cause.eventId,
    actor: cause.metadata.actor,
  });
}

/** The Nest adapter: runs each consumed batch through projectBatch, counts the outcomes, returns the refused. */
@Injectable()
export class EffectiveLicensesProjector {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private readonly publishedSets = new PublishedSetCache();

  readonly handle: BatchHandler = async (batch, positions) => {
    const { propagation, eventsConsumed } = this.metrics;
    const counts = await projectBatch(
      this.store,
      this.clock,
      batch,
      {
        warningWindowDays: this.config.expiryWarningDays,
        publishedSets: this.publishedSets,
        // From the producer's occurredAt to this commit: how long a change took to reach the effective sets.
        onCommitted: (applied) => {
          const now = Date.now();
          for (const event of applied)
            propagation.observe({ type: event.type }, Math.max(0, now - Date.parse(event.occurredAt)) / 1000);
        },
      },
      positions,
    );
    eventsConsumed.inc({ outcome: 'applied' }, counts.applied);
    eventsConsumed.inc({ outcome: 'redelivered' }, counts.redelivered);
    // The refused (replays and stale versions) are counted as rejected and dead-lettered by the consumer.
    return counts.refused;
  };
}
