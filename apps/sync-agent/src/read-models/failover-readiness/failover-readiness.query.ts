/**
 * Failover readiness, read SYNCHRONOUSLY from the facts the projector has committed (products, pairs,
 * licenses), from JetStream's account of the sync agent's durable consumers, and from the producers' signed
 * answers about the newest event each has committed. The rules are the pure functions of failover-readiness.ts;
 * this file only gathers their inputs.
 */
import { Inject, Injectable } from '@nestjs/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import {
  CLOCK,
  EventStore,
  NewestEventReplyV1,
  ServiceRuntime,
  type Clock,
  type DurableConsumerSpec,
  type EventSource,
  type SignedRpcClient,
  type Tx,
} from '#shared';
import { loadWorkingSet } from '../effective-licenses/projection-store.js';
import {
  assessFailoverReadiness,
  type ConsumerLag,
  type FailoverReadinessReport,
  type ProducerCatchUp,
} from './failover-readiness.js';
import { projectionConsumers } from './projection-consumers.js';

/** How many events each consumer has not applied yet: delivered-but-unacknowledged ones count too. */
export async function readConsumerLag(
  jsm: Pick<JetStreamManager, 'consumers'>,
  consumers: readonly Pick<DurableConsumerSpec, 'stream' | 'durable'>[],
): Promise<ConsumerLag[]> {
  return Promise.all(
    consumers.map(async ({ stream, durable }): Promise<ConsumerLag> => {
      try {
        const info = await jsm.consumers.info(stream, durable);
        return { stream, pending: info.num_pending, ackPending: info.num_ack_pending };
      } catch (error) {
        return { stream, error: (error as Error).message };
      }
    }),
  );
}

/** The producers whose events the projection applies. */
const PRODUCERS: readonly EventSource[] = ['pairing', 'licensing'];

/** A producer's answer about its newest committed event, before the inbox was consulted. */
type NewestEvent =
  { readonly source: string; readonly newestEventId: string | null } | { readonly source: string; readonly error: string };

/** Whether each producer's newest event is in the inbox (applied), read in the facts' transaction. */
export async function catchUpOf(tx: Tx, newest: readonly NewestEvent[]): Promise<ProducerCatchUp[]> {
  const ids = newest.flatMap((n) => ('newestEventId' in n && n.newestEventId !== null ? [n.newestEventId] : []));
  const rows: { event_id: string }[] =
    ids.length === 0 ? [] : await tx.query('SELECT event_id FROM inbox WHERE event_id = ANY($1::uuid[])', [ids]);
  const applied = new Set(rows.map((r) => r.event_id));
  return newest.map((n) => ('error' in n ? n : { ...n, applied: n.newestEventId !== null && applied.has(n.newestEventId) }));
}

/** The two serials of a pair the sync agent has seen, or null. */
export async function serialsOfPair(tx: Tx, pairId: string): Promise<{ primarySerial: string; secondarySerial: string } | null> {
  const rows: { primary_serial: string; secondary_serial: string }[] = await tx.query(
    'SELECT primary_serial, secondary_serial FROM pairs WHERE pair_id = $1',
    [pairId],
  );
  const row = rows[0];
  return row ? { primarySerial: row.primary_serial, secondarySerial: row.secondary_serial } : null;
}

/** The associated pairs with a unit of `accountId`, oldest association first. */
export async function associatedPairsOfAccount(
  tx: Tx,
  accountId: string,
): Promise<{ pairId: string; primarySerial: string; secondarySerial: string }[]> {
  const rows: { pair_id: string; primary_serial: string; secondary_serial: string }[] = await tx.query(
    `SELECT p.pair_id, p.primary_serial, p.secondary_serial, p.associated_at FROM pairs p
      WHERE p.status = 'associated'
        AND EXISTS (SELECT 1 FROM products pr
                     WHERE pr.serial IN (p.primary_serial, p.secondary_serial) AND pr.account_id = $1)
      ORDER BY p.associated_at, p.pair_id`,
    [accountId],
  );
  return rows.map((r) => ({ pairId: r.pair_id, primarySerial: r.primary_serial, secondarySerial: r.secondary_serial }));
}

/** The readiness of every associated pair of an account. */
export interface AccountReadinessReport {
  readonly accountId: string;
  readonly checkedAt: string;
  readonly pairs: readonly FailoverReadinessReport[];
}

@Injectable()
export class FailoverReadinessQuery {
  private jsm: Promise<JetStreamManager> | undefined;
  private readonly producers: ReadonlyMap<EventSource, SignedRpcClient>;

  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.producers = new Map(PRODUCERS.map((source) => [source, runtime.askerOf(source, `the ${source} service`)]));
  }

  /** The readiness of one pair, or null when the sync agent knows no such pair. */
  async forPair(pairId: string): Promise<FailoverReadinessReport | null> {
    // The backlog and the producers' newest events are read BEFORE the facts: "nothing pending" and "the newest
    // event is in the inbox" then mean the facts read next include every event committed until that moment (the
    // consumer acknowledges only after the projection committed, in the same transaction as the inbox).
    const [lag, newest] = await Promise.all([this.lag(), this.newestEvents()]);
    return this.store.transaction(async (tx) => {
      const serials = await serialsOfPair(tx, pairId);
      if (serials === null) return null;
      const state = await loadWorkingSet(tx, [serials.primarySerial, serials.secondarySerial]);
      return assessFailoverReadiness(state, pairId, this.context(lag, await catchUpOf(tx, newest)));
    });
  }

  /** The readiness of every associated pair of `accountId`. */
  async forAccount(accountId: string): Promise<AccountReadinessReport> {
    const [lag, newest] = await Promise.all([this.lag(), this.newestEvents()]);
    return this.store.transaction(async (tx) => {
      const pairs = await associatedPairsOfAccount(tx, accountId);
      const state = await loadWorkingSet(tx, [...new Set(pairs.flatMap((p) => [p.primarySerial, p.secondarySerial]))]);
      const context = this.context(lag, await catchUpOf(tx, newest));
      return {
        accountId,
        checkedAt: context.now.toISOString(),
        pairs: pairs
          .map((p) => assessFailoverReadiness(state, p.pairId, context))
          .filter((r): r is FailoverReadinessReport => r !== null),
      };
    });
  }

  private context(lag: readonly ConsumerLag[], producers: readonly ProducerCatchUp[]) {
    return { now: this.clock.now(), lag, producers, warningWindowDays: this.runtime.config.expiryWarningDays };
  }

  /** Each producer's signed answer: the newest event it has committed (or why there is none). */
  private newestEvents(): Promise<NewestEvent[]> {
    return Promise.all(
      [...this.producers].map(async ([source, producer]): Promise<NewestEvent> => {
        try {
          const reply = await producer.request(this.runtime.names.newestEvent(source), {}, NewestEventReplyV1);
          return { source, newestEventId: reply.eventId };
        } catch (error) {
          return { source, error: (error as Error).message };
        }
      }),
    );
  }

  private async lag(): Promise<ConsumerLag[]> {
    try {
      this.jsm ??= jetstreamManager(this.runtime.nats, { checkAPI: false });
      return await readConsumerLag(await this.jsm, projectionConsumers(this.runtime.names));
    } catch (error) {
      this.jsm = undefined;
      const message = (error as Error).message;
      return projectionConsumers(this.runtime.names).map(({ stream }) => ({ stream, error: message }));
    }
  }
}
