import type { EventEnvelope } from '#shared/contracts';
import { applyEvents, emptyProjection, type EffectiveSetOptions, type ProjectionState } from '../projection.js';
import {
  decidePublication,
  publicationScope,
  type Publication,
  type PublishedSet,
  type PublishedStatefulSync,
} from '../publication.js';

/**
 * Test support: the projector's publishing in memory. Folds batch after batch, hands decidePublication only what
 * publicationScope asked to load (as the projector does), and keeps what was published as the outbox and the
 * `stateful_sync_published` table do; an expected version that is not the stream's is a conflict, as in the event
 * store.
 */
export class Publisher {
  state: ProjectionState = emptyProjection();
  /** The set last published per serial and the pair's stateful sync last published per pair id, with their versions. */
  readonly sets = new Map<string, PublishedSet>();
  readonly statefulSync = new Map<string, PublishedStatefulSync>();

  constructor(
    private readonly now: Date,
    private readonly options: EffectiveSetOptions = {},
  ) {}

  /** Folds one batch and publishes what it changed. */
  project(events: readonly EventEnvelope[]): Publication {
    const batch = applyEvents(this.state, events);
    const scope = publicationScope(batch);
    const loaded = <V>(all: ReadonlyMap<string, V>, keys: readonly string[]) =>
      new Map(keys.flatMap((key) => (all.has(key) ? [[key, all.get(key)!] as const] : [])));
    const publication = decidePublication(
      batch,
      { sets: loaded(this.sets, scope.serials), statefulSync: loaded(this.statefulSync, scope.pairIds) },
      this.now,
      this.options,
    );
    for (const change of publication.effectiveSets) {
      checkVersion(change.streamId, change.expectedVersion, this.sets.get(change.set.serial)?.version);
      this.sets.set(change.set.serial, { set: change.set, version: change.expectedVersion + 1 });
    }
    for (const change of publication.statefulSync) {
      checkVersion(change.streamId, change.expectedVersion, this.statefulSync.get(change.pair.pairId)?.version);
      this.statefulSync.set(change.pair.pairId, { status: change.status, version: change.expectedVersion + 1 });
    }
    this.state = batch.state;
    return publication;
  }
}

function checkVersion(streamId: string, expected: number, held = 0): void {
  if (expected !== held) throw new Error(`version conflict on ${streamId}: expected ${expected}, the stream is at ${held}`);
}
