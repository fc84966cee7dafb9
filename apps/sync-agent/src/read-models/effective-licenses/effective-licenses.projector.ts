/**
 * The effective-licenses read model, updated ASYNCHRONOUSLY from the bus: pairing and licensing events
 * arrive through durable JetStream consumers, in any order relative to each other, possibly more than once.
 */
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, EventStore, ServiceRuntime, type Clock, type EventEnvelope, type SyncAgentEvent } from '#shared';
import { diffEffectiveSets, isSameEffectiveSet } from '../../domain/effective-licenses/effective-licenses.js';
import { affectedSerials, applyEvent, effectiveSetOf, namedSerials } from '../../domain/effective-licenses/projection.js';
import { loadSnapshots, loadWorkingSet, recordInInbox, saveChangedFacts, saveSnapshot } from './projection-store.js';

export const effectiveLicensesStreamId = (serial: string): string => `effective-licenses-${serial}`;

/**
 * Applies a batch of events in one transaction: each event counts once (inbox), each product, pair and
 * license keeps its newest version, and every product whose effective set changed gets an
 * EffectiveLicensesChanged in the outbox. The consumer acks the batch only after this commits.
 */
@Injectable()
export class EffectiveLicensesProjector {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  readonly handle = async (batch: readonly EventEnvelope[]): Promise<void> => {
    const counts = { applied: 0, duplicate: 0, stale: 0 };
    await this.store.transaction(async (tx) => {
      // One projector transaction at a time per schema, so two instances never interleave a
      // read-compute-write of the same effective set.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.effective-licenses-projector'))`);
      counts.applied = counts.duplicate = counts.stale = 0;
      const fresh = await recordInInbox(tx, batch);
      const events = batch.filter((e, i) => fresh.has(e.eventId) && batch.findIndex((o) => o.eventId === e.eventId) === i);
      counts.duplicate = batch.length - events.length;
      if (events.length === 0) return;

      const before = await loadWorkingSet(tx, [...new Set(events.flatMap(namedSerials))]);
      let state = before;
      const causeOf = new Map<string, EventEnvelope>();
      for (const event of events) {
        const next = applyEvent(state, event);
        if (next === state) {
          counts.stale++;
          continue;
        }
        counts.applied++;
        for (const serial of new Set([...affectedSerials(state, event), ...affectedSerials(next, event)]))
          causeOf.set(serial, event);
        state = next;
      }
      await saveChangedFacts(tx, before, state);

      const now = this.clock.now();
      const snapshots = await loadSnapshots(tx, [...causeOf.keys()]);
      for (const [serial, cause] of causeOf) {
        const set = effectiveSetOf(state, serial, now);
        if (set === null) continue; // not registered (yet): nothing to publish
        const previous = snapshots.get(serial);
        if (previous && isSameEffectiveSet(previous.set, set)) continue;
        const version = previous?.version ?? 0;
        const change: SyncAgentEvent = {
          type: 'EffectiveLicensesChanged',
          data: {
            serial,
            ...diffEffectiveSets(previous?.set ?? null, set),
            set,
            cause: { eventId: cause.eventId, type: cause.type },
            computedAt: now.toISOString(),
          },
        };
        await this.store.append(tx, effectiveLicensesStreamId(serial), version, [change], {
          occurredAt: now,
          metadata: { correlationId: cause.metadata.correlationId, causationId: cause.eventId },
        });
        await saveSnapshot(tx, set, version + 1);
      }
    });
    const metrics = this.runtime.metrics.eventsConsumed;
    metrics.inc({ outcome: 'applied' }, counts.applied);
    metrics.inc({ outcome: 'duplicate' }, counts.duplicate);
    metrics.inc({ outcome: 'stale' }, counts.stale);
  };
}
