import type {
  EffectiveLicenseSetV1,
  EffectiveLicensesChangedV1,
  EventCauseV1,
  EventEnvelope,
  StatefulSyncChangedV1,
  StatefulSyncStatusV1,
} from '#shared/contracts';
import { changedFieldsOf, diffEffectiveSets, type PairFacts } from './effective-licenses.js';
import { setsAt, type EffectiveSetOptions, type FoldedEvent, type ProjectionState, type SetsAt } from './projection.js';

/**
 * What the sync agent tells its subscribers after a batch, as a pure function of the batch's outcome and of what it
 * told them before: an EffectiveLicensesChanged for every product whose effective set changed, and a
 * StatefulSyncChanged for every pair whose stateful synchronization changed. The projector loads what was last
 * published (publicationScope says for what), calls decidePublication, and writes what it returns.
 */

/** The sync agent's stream of a product's EffectiveLicensesChanged. */
export const effectiveLicensesStreamId = (serial: string): string => `effective-licenses-${serial}`;
/** The sync agent's stream of a pair's StatefulSyncChanged. */
export const statefulSyncStreamId = (pairId: string): string => `stateful-sync-${pairId}`;

/** The effective set last published for a product, and the version of its `effective-licenses-<serial>` stream. */
export interface PublishedSet {
  readonly set: EffectiveLicenseSetV1;
  readonly version: number;
}

/** The stateful-sync status last published for a pair, and the version of its `stateful-sync-<pairId>` stream. */
export interface PublishedStatefulSync {
  readonly status: StatefulSyncStatusV1;
  readonly version: number;
}

/** What was last published for the products and pairs of publicationScope (those without an entry: nothing yet). */
export interface PublishedBefore {
  readonly sets: ReadonlyMap<string, PublishedSet>;
  readonly statefulSync: ReadonlyMap<string, PublishedStatefulSync>;
}

/** A batch as folded: the state after it, and each event with whether it applied and the serials it affected. */
export interface FoldedBatch {
  readonly state: ProjectionState;
  readonly folded: readonly FoldedEvent[];
}

/** One event to publish: appended to `streamId` at `expectedVersion`; `cause` (the last of its causes) it derives from. */
interface Change<T extends string, D> {
  readonly streamId: string;
  readonly expectedVersion: number;
  readonly event: { readonly type: T; readonly data: D };
  readonly cause: EventEnvelope;
}

/** A product's new effective set (`set`, the event's `data.set`), published at version `expectedVersion + 1`. */
export interface EffectiveSetChange extends Change<'EffectiveLicensesChanged', EffectiveLicensesChangedV1> {
  readonly set: EffectiveLicenseSetV1;
}

/** A pair's new stateful synchronization; the status to keep is `status` at version `expectedVersion + 1`. */
export interface StatefulSyncChange extends Change<'StatefulSyncChanged', StatefulSyncChangedV1> {
  readonly pair: PairFacts;
  readonly status: StatefulSyncStatusV1;
}

/** What a batch publishes, in the order it is appended. */
export interface Publication {
  readonly effectiveSets: readonly EffectiveSetChange[];
  readonly statefulSync: readonly StatefulSyncChange[];
}

/** The products whose set and the pairs whose stateful synchronization a batch may have changed: what to load first. */
export function publicationScope({ state, folded }: FoldedBatch): { serials: string[]; pairIds: string[] } {
  const causeOf = causesBySerial(folded);
  return { serials: [...causeOf.keys()], pairIds: touchedPairs(state, causeOf).map((p) => p.pairId) };
}

/**
 * What a batch publishes. Effective sets: every affected product that is registered and whose set differs (in any
 * of its fields) from the one last published, in the order the batch first affected them. Stateful sync: every pair
 * of an affected product whose status differs from the one last published (shouldPublishStatefulSync), pairs that
 * ended first. Each names as causes the events that affected it, in the order applied; its stream version follows
 * the one last published.
 */
export function decidePublication(
  batch: FoldedBatch,
  published: PublishedBefore,
  now: Date,
  options: EffectiveSetOptions = {},
): Publication {
  const causeOf = causesBySerial(batch.folded);
  const sets = setsAt(batch.state, now, options);
  return {
    effectiveSets: effectiveSetChanges(sets, causeOf, published.sets, now),
    statefulSync: statefulSyncChanges(batch, sets, causeOf, published.statefulSync, now),
  };
}

/**
 * Whether a pair's status is news to its units: its first status (nothing was published before), or a change of
 * `enabled` or `reason`. A pair that ended (NOT_PAIRED) is announced only if it was enabled, since "off" is what its
 * units already knew.
 */
export function shouldPublishStatefulSync(previous: StatefulSyncStatusV1 | null, status: StatefulSyncStatusV1): boolean {
  if (status.reason === 'NOT_PAIRED') return previous?.enabled === true;
  return previous === null || previous.enabled !== status.enabled || previous.reason !== status.reason;
}

/** Every applied event of the batch that affected each serial, in the order applied; serials in order first affected. */
function causesBySerial(folded: readonly FoldedEvent[]): Map<string, EventEnvelope[]> {
  const causeOf = new Map<string, EventEnvelope[]>();
  for (const { event, applied, affected } of folded) {
    if (!applied) continue;
    for (const serial of affected) {
      const causes = causeOf.get(serial);
      if (causes) causes.push(event);
      else causeOf.set(serial, [event]);
    }
  }
  return causeOf;
}

/** The pairs (any status) either of whose units the batch affected, by pair id. */
function touchedPairs(state: ProjectionState, causeOf: ReadonlyMap<string, readonly EventEnvelope[]>): PairFacts[] {
  return [...state.pairs.values()]
    .map((p) => p.facts)
    .filter((p) => causeOf.has(p.primarySerial) || causeOf.has(p.secondarySerial))
    .sort((a, b) => (a.pairId < b.pairId ? -1 : a.pairId > b.pairId ? 1 : 0));
}

/** How a published event names what caused it: every cause, and the last one alone (`cause`, as v1 always had it). */
function causesOf(events: readonly EventEnvelope[]): { cause: EventCauseV1; causes: EventCauseV1[] } {
  const causes = events.map((e) => ({ eventId: e.eventId, type: e.type }));
  return { cause: causes.at(-1)!, causes };
}

function effectiveSetChanges(
  sets: SetsAt,
  causeOf: ReadonlyMap<string, readonly EventEnvelope[]>,
  published: ReadonlyMap<string, PublishedSet>,
  now: Date,
): EffectiveSetChange[] {
  const changes: EffectiveSetChange[] = [];
  for (const [serial, events] of causeOf) {
    const set = sets.effectiveSetOf(serial);
    if (set === null) continue; // not registered (yet): nothing to publish
    const previous = published.get(serial);
    const changedFields = changedFieldsOf(previous?.set ?? null, set);
    if (changedFields.length === 0) continue;
    changes.push({
      streamId: effectiveLicensesStreamId(serial),
      expectedVersion: previous?.version ?? 0,
      event: {
        type: 'EffectiveLicensesChanged',
        data: {
          serial,
          ...diffEffectiveSets(previous?.set ?? null, set),
          set,
          ...causesOf(events),
          changedFields,
          computedAt: now.toISOString(),
        },
      },
      cause: events.at(-1)!,
      set,
    });
  }
  return changes;
}

function statefulSyncChanges(
  { state, folded }: FoldedBatch,
  sets: SetsAt,
  causeOf: ReadonlyMap<string, readonly EventEnvelope[]>,
  published: ReadonlyMap<string, PublishedStatefulSync>,
  now: Date,
): StatefulSyncChange[] {
  const positionOf = new Map(folded.map(({ event }, i) => [event, i]));
  const statuses = touchedPairs(state, causeOf).map((pair) => ({ pair, status: sets.pairStatefulSyncOf(pair.pairId) }));
  // Pairs that ended are announced first: off for the old pair before on for the pair that replaced it.
  statuses.sort((a, b) => Number(b.status.reason === 'NOT_PAIRED') - Number(a.status.reason === 'NOT_PAIRED'));
  const changes: StatefulSyncChange[] = [];
  for (const { pair, status } of statuses) {
    const previous = published.get(pair.pairId);
    if (!shouldPublishStatefulSync(previous?.status ?? null, status)) continue;
    // The events that touched either unit, in the order applied; the last is the cause.
    const causes = [...new Set([...(causeOf.get(pair.primarySerial) ?? []), ...(causeOf.get(pair.secondarySerial) ?? [])])].sort(
      (a, b) => positionOf.get(a)! - positionOf.get(b)!,
    );
    changes.push({
      streamId: statefulSyncStreamId(pair.pairId),
      expectedVersion: previous?.version ?? 0,
      event: {
        type: 'StatefulSyncChanged',
        data: {
          pairId: pair.pairId,
          primarySerial: pair.primarySerial,
          secondarySerial: pair.secondarySerial,
          ...status,
          ...causesOf(causes),
          changedAt: now.toISOString(),
        },
      },
      cause: causes.at(-1)!,
      pair,
      status,
    });
  }
  return changes;
}
