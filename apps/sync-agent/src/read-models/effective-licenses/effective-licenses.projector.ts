/**
 * The effective-licenses read model, updated ASYNCHRONOUSLY from the bus: pairing and licensing events
 * arrive through durable JetStream consumers, in any order relative to each other, possibly more than once.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  CLOCK,
  EventStore,
  ServiceContext as ServiceRuntime,
  eventMetadataOf,
  queryPrepared,
  type Clock,
  type EventMetadata,
  type EffectiveLicenseSetV1,
  type BatchHandler,
  type EventCauseV1,
  type EventEnvelope,
  type RefusedEvent,
  type StatefulSyncStatusV1,
  type StreamPosition,
  type StreamAppend,
  type SyncAgentEvent,
  type Tx,
} from '#shared';
import { changedFieldsOf, diffEffectiveSets } from '../../domain/effective-licenses/effective-licenses.js';
import {
  applyEvents,
  effectiveSetOf,
  namedLicenseIds,
  namedSerials,
  pairStatefulSyncOf,
  storedSerialsOf,
  type EffectiveSetOptions,
  type ProjectionState,
} from '../../domain/effective-licenses/projection.js';
import { effectiveLicensesStreamId, statefulSyncStreamId } from '../../domain/effective-licenses/publication.js';
import { loadNamedFacts, loadWorkingSet, saveChangedFacts } from '../../facts/facts-store.js';
import { recordInInbox } from '../../facts/inbox.js';
import { loadPublishedStatefulSync, loadSnapshots, savePublishedStatefulSync, saveSnapshots } from './published-store.js';

// The published streams' names are the domain's (publication.ts); re-exported here, where test/contract-docs.spec.ts
// has always read them from.
export { effectiveLicensesStreamId, statefulSyncStreamId };

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
 * Options of projectBatch besides the effective-set ones. `publish: false` (the rebuild, issue 4) writes only
 * the facts and the inbox: no EffectiveLicensesChanged / StatefulSyncChanged and no published-set snapshots.
 */
export interface ProjectBatchOptions extends EffectiveSetOptions {
  readonly publish?: boolean;
  /** Events projected on one working set (default PROJECTION_SLICE). */
  readonly sliceSize?: number;
  /** Called once the batch committed, with the events it applied (not the redelivered or refused ones). */
  readonly onCommitted?: (applied: readonly EventEnvelope[]) => void;
}

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
  await store.transaction(async (tx) => {
    // One projector transaction at a time per schema, so two instances never interleave a
    // read-compute-write of the same effective set.
    await queryPrepared(tx, 'sync-agent.projector-lock', 'SELECT pg_advisory_xact_lock(hashtext(current_schema() || $1))', [
      PROJECTOR_LOCK_SUFFIX,
    ]);
    Object.assign(counts, { applied: 0, redelivered: 0, refused: [] });
    applied.length = 0;
    // Slice by slice, so that what is held in memory at once is one slice's working set, however big the batch:
    // each slice sees what the slices before it wrote in this transaction, as a later batch would. When sets are
    // published, a pair's events go into the same slice, so that its two sets are still published once per batch.
    const slice = options.sliceSize ?? PROJECTION_SLICE;
    const grouped = batch.length > slice && options.publish !== false;
    const order = grouped ? await orderByPair(tx, batch) : batch.map((_, index) => index);
    for (let from = 0; from < order.length; from += slice) {
      await projectSlice(tx, store, clock, batch, positions, order.slice(from, from + slice), options, counts, applied);
    }
  });
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
 * The batch's indexes with the events of each HA pair together, pairs in order of first appearance, and every
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
    const source = positions[index];
    if (original && source && original.stream === source.stream && original.seq === source.seq) counts.redelivered++;
    else counts.refused.push({ index, reason: 'REPLAYED', detail: replayDetail(event, original) });
  }
  const events = unique.filter((e) => !known.has(e.eventId));
  if (events.length === 0) return;

  const { state, folded } = applyEvents(before, events);
  // Every event of the slice that touched each serial, in the order applied: the causes named in what is published.
  const causeOf = new Map<string, EventEnvelope[]>();
  for (const { event, applied, affected } of folded) {
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
    for (const serial of affected) {
      const causes = causeOf.get(serial);
      if (causes) causes.push(event);
      else causeOf.set(serial, [event]);
    }
  }
  await saveChangedFacts(tx, before, state);
  if (options.publish === false) return; // rebuild (issue 4): facts only, the outbox stays as it is

  const now = clock.now();
  await publishEffectiveSets(store, tx, state, causeOf, now, options);
  await publishStatefulSync(store, tx, state, causeOf, events, now, options);
}

function replayDetail(event: EventEnvelope, original: StreamPosition | null): string {
  const where = original ? ` from ${original.stream} sequence ${original.seq}` : '';
  return `${event.type} ${event.eventId} was already applied${where}`;
}

/** How a published event names what caused it: every cause, and the last one alone (`cause`, as v1 always had it). */
function causesOf(events: readonly EventEnvelope[]): { cause: EventCauseV1; causes: EventCauseV1[] } {
  const causes = events.map((e) => ({ eventId: e.eventId, type: e.type }));
  return { cause: causes.at(-1)!, causes };
}

async function publishEffectiveSets(
  store: EventStore,
  tx: Tx,
  state: ProjectionState,
  causeOf: ReadonlyMap<string, readonly EventEnvelope[]>,
  now: Date,
  options: EffectiveSetOptions,
): Promise<void> {
  const snapshots = await loadSnapshots(tx, [...causeOf.keys()]);
  const appends: StreamAppend<SyncAgentEvent>[] = [];
  const published: { set: EffectiveLicenseSetV1; version: number }[] = [];
  for (const [serial, events] of causeOf) {
    const set = effectiveSetOf(state, serial, now, options);
    if (set === null) continue; // not registered (yet): nothing to publish
    const previous = snapshots.get(serial);
    const changedFields = changedFieldsOf(previous?.set ?? null, set);
    if (changedFields.length === 0) continue;
    const version = previous?.version ?? 0;
    const cause = events.at(-1)!;
    const change: SyncAgentEvent = {
      type: 'EffectiveLicensesChanged',
      data: {
        serial,
        ...diffEffectiveSets(previous?.set ?? null, set),
        set,
        ...causesOf(events),
        changedFields,
        computedAt: now.toISOString(),
      },
    };
    appends.push({
      streamId: effectiveLicensesStreamId(serial),
      expectedVersion: version,
      events: [change],
      context: { occurredAt: now, metadata: derivedMetadata(cause) },
    });
    published.push({ set, version: version + 1 });
  }
  // One statement each for the whole batch, not two per serial.
  await store.appendToStreams(tx, appends);
  await saveSnapshots(tx, published);
}

/**
 * Publishes the stateful synchronization of every pair of an affected serial whose status differs from the one
 * last published for it. A pair seen for the first time publishes its status (nothing was published before); a
 * pair that ended (dissociated, or superseded by a later association) publishes NOT_PAIRED only if it was
 * enabled, since "off" is what its units already knew.
 */
async function publishStatefulSync(
  store: EventStore,
  tx: Tx,
  state: ProjectionState,
  causeOf: ReadonlyMap<string, readonly EventEnvelope[]>,
  events: readonly EventEnvelope[],
  now: Date,
  options: EffectiveSetOptions,
): Promise<void> {
  const pairs = [...state.pairs.values()]
    .map((p) => p.facts)
    .filter((p) => causeOf.has(p.primarySerial) || causeOf.has(p.secondarySerial))
    .sort((a, b) => (a.pairId < b.pairId ? -1 : a.pairId > b.pairId ? 1 : 0));
  const published = await loadPublishedStatefulSync(
    tx,
    pairs.map((p) => p.pairId),
  );
  const statuses = pairs.map((pair) => ({ pair, status: pairStatefulSyncOf(state, pair.pairId, now, options) }));
  const positionOf = new Map(events.map((e, i) => [e, i]));
  // Pairs that ended are announced first: off for the old pair before on for the pair that replaced it.
  statuses.sort((a, b) => Number(b.status.reason === 'NOT_PAIRED') - Number(a.status.reason === 'NOT_PAIRED'));
  for (const { pair, status } of statuses) {
    const previous = published.get(pair.pairId);
    if (!shouldPublish(previous?.status ?? null, status)) continue;
    // The events that touched either unit, in the order applied; the last is the cause.
    const causes = [...new Set([...(causeOf.get(pair.primarySerial) ?? []), ...(causeOf.get(pair.secondarySerial) ?? [])])].sort(
      (a, b) => positionOf.get(a)! - positionOf.get(b)!,
    );
    const cause = causes.at(-1)!;
    const version = previous?.version ?? 0;
    const change: SyncAgentEvent = {
      type: 'StatefulSyncChanged',
      data: {
        pairId: pair.pairId,
        primarySerial: pair.primarySerial,
        secondarySerial: pair.secondarySerial,
        ...status,
        ...causesOf(causes),
        changedAt: now.toISOString(),
      },
    };
    await store.append(tx, statefulSyncStreamId(pair.pairId), version, [change], {
      occurredAt: now,
      metadata: derivedMetadata(cause),
    });
    await savePublishedStatefulSync(tx, pair, status, version + 1);
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

function shouldPublish(previous: StatefulSyncStatusV1 | null, status: StatefulSyncStatusV1): boolean {
  if (status.reason === 'NOT_PAIRED') return previous?.enabled === true;
  return previous === null || previous.enabled !== status.enabled || previous.reason !== status.reason;
}

/** The Nest adapter: runs each consumed batch through projectBatch, counts the outcomes, returns the refused. */
@Injectable()
export class EffectiveLicensesProjector {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  readonly handle: BatchHandler = async (batch, positions) => {
    const { propagation } = this.runtime.metrics;
    const counts = await projectBatch(
      this.store,
      this.clock,
      batch,
      {
        warningWindowDays: this.runtime.config.expiryWarningDays,
        // From the producer's occurredAt to this commit: how long a change took to reach the effective sets.
        onCommitted: (applied) => {
          const now = Date.now();
          for (const event of applied)
            propagation.observe({ type: event.type }, Math.max(0, now - Date.parse(event.occurredAt)) / 1000);
        },
      },
      positions,
    );
    const metrics = this.runtime.metrics.eventsConsumed;
    metrics.inc({ outcome: 'applied' }, counts.applied);
    metrics.inc({ outcome: 'redelivered' }, counts.redelivered);
    // The refused (replays and stale versions) are counted as rejected and dead-lettered by the consumer.
    return counts.refused;
  };
}
