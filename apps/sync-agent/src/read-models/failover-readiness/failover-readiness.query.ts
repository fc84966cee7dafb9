/**
 * Failover readiness, read SYNCHRONOUSLY from the facts the projector has committed (products, pairs,
 * licenses), from JetStream's account of the sync agent's durable consumers, and from the producers' signed
 * answers about the newest event each has committed. The rules are the pure functions of failover-readiness.ts;
 * this file only gathers their inputs.
 */
import { Inject, Injectable } from '@nestjs/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import {
  BUS_NAMES,
  Bus,
  CLOCK,
  EventStore,
  NewestEventReplyV1,
  SERVICE_CONFIG,
  encodeCursor,
  type BusNames,
  type Clock,
  type DurableConsumerSpec,
  type EventSource,
  type ServiceConfig,
  type SignedRpcClient,
  type Tx,
} from '#shared';
import { loadWorkingSet } from '../../facts/facts-store.js';
import { projectionConsumers } from '../../facts/projection-consumers.js';
import {
  assessFailoverReadiness,
  type ConsumerLag,
  type FailoverReadinessReport,
  type ProducerCatchUp,
} from './failover-readiness.js';

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

/** An associated pair as the readiness list walks them, with its account and its place in the order. */
export interface ListedPair {
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly accountId: string | null;
  readonly associatedAt: string;
}

/** A place in the list: the `[associatedAt, pairId]` of the last pair looked at. */
export type PairCursor = readonly [string, string];

/**
 * Up to `limit` associated pairs after `after`, oldest association first (ties by pair id), of `accountId` (a pair
 * whose either unit is of it) or of every account (null).
 */
export async function associatedPairsPage(
  tx: Tx,
  accountId: string | null,
  after: PairCursor | null,
  limit: number,
): Promise<ListedPair[]> {
  const rows: {
    pair_id: string;
    primary_serial: string;
    secondary_serial: string;
    associated_at: Date;
    account_id: string | null;
  }[] = await tx.query(
    `SELECT p.pair_id, p.primary_serial, p.secondary_serial, p.associated_at,
            (SELECT pr.account_id FROM products pr
              WHERE pr.serial IN (p.primary_serial, p.secondary_serial) ORDER BY pr.serial = p.primary_serial DESC LIMIT 1)
              AS account_id
       FROM pairs p
      WHERE p.status = 'associated'
        AND ($1::text IS NULL OR EXISTS (SELECT 1 FROM products pr
                                          WHERE pr.serial IN (p.primary_serial, p.secondary_serial) AND pr.account_id = $1))
        AND ($2::timestamptz IS NULL OR (p.associated_at, p.pair_id) > ($2::timestamptz, $3::uuid))
      ORDER BY p.associated_at, p.pair_id
      LIMIT $4`,
    [accountId, after?.[0] ?? null, after?.[1] ?? null, limit],
  );
  return rows.map((r) => ({
    pairId: r.pair_id,
    primarySerial: r.primary_serial,
    secondarySerial: r.secondary_serial,
    accountId: r.account_id,
    associatedAt: r.associated_at.toISOString(),
  }));
}

/** One pair's readiness in the list, with the account it belongs to (null while the agent knows neither unit). */
export type ListedPairReadiness = FailoverReadinessReport & { readonly accountId: string | null };

/** A page of the readiness list: `accountId` is the account read (null: every account). */
export interface AccountReadinessReport {
  readonly accountId: string | null;
  readonly checkedAt: string;
  readonly pairs: readonly ListedPairReadiness[];
  /** Where the next page starts; null when every pair has been looked at. */
  readonly nextCursor: string | null;
}

/** What the readiness list is narrowed to and where it starts. */
export interface ReadinessListRequest {
  readonly accountId: string | null;
  /** Only pairs that are (true) or are not (false) ready. */
  readonly ready?: boolean | undefined;
  readonly after: PairCursor | null;
  readonly limit: number;
}

/** Pairs assessed per statement while filling a page. */
const SCAN_CHUNK = 200;
/**
 * The most pairs one page assesses. With a `ready` filter that few pairs match, a page may end short (even empty) with
 * a `nextCursor`, rather than one request assessing the whole fleet.
 */
export const MAX_SCANNED_PER_PAGE = 2_000;

@Injectable()
export class FailoverReadinessQuery {
  private jsm: Promise<JetStreamManager> | undefined;
  private readonly producers: ReadonlyMap<EventSource, SignedRpcClient>;

  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS_NAMES) private readonly names: BusNames,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.producers = new Map(PRODUCERS.map((source) => [source, bus.askerOf(source, `the ${source} service`)]));
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

  /**
   * A page of the readiness of associated pairs, oldest association first: of `accountId` or every account, only
   * those whose `ready` matches when asked. Pairs are assessed a chunk at a time until the page is full, the list ends,
   * or MAX_SCANNED_PER_PAGE pairs were looked at; the cursor is the last pair looked at, so the next page goes on from
   * there whether or not it matched.
   */
  async list(request: ReadinessListRequest): Promise<AccountReadinessReport> {
    const [lag, newest] = await Promise.all([this.lag(), this.newestEvents()]);
    return this.store.transaction(async (tx) => {
      const context = this.context(lag, await catchUpOf(tx, newest));
      const found: ListedPairReadiness[] = [];
      let after = request.after;
      let scanned = 0;
      let exhausted = false;
      while (found.length < request.limit && scanned < MAX_SCANNED_PER_PAGE) {
        const chunk = await associatedPairsPage(
          tx,
          request.accountId,
          after,
          Math.min(SCAN_CHUNK, MAX_SCANNED_PER_PAGE - scanned),
        );
        const state = await loadWorkingSet(tx, [...new Set(chunk.flatMap((p) => [p.primarySerial, p.secondarySerial]))]);
        for (const pair of chunk) {
          scanned++;
          after = [pair.associatedAt, pair.pairId];
          const report = assessFailoverReadiness(state, pair.pairId, context);
          if (report === null || (request.ready !== undefined && report.ready !== request.ready)) continue;
          found.push({ ...report, accountId: pair.accountId });
          if (found.length === request.limit) break;
        }
        if (chunk.length < SCAN_CHUNK && scanned < MAX_SCANNED_PER_PAGE && found.length < request.limit) {
          exhausted = true;
          break;
        }
      }
      // A full page may be followed by nothing; the next request then answers an empty last page.
      return {
        accountId: request.accountId,
        checkedAt: context.now.toISOString(),
        pairs: found,
        nextCursor: exhausted || after === null ? null : encodeCursor(after),
      };
    });
  }

  private context(lag: readonly ConsumerLag[], producers: readonly ProducerCatchUp[]) {
    return { now: this.clock.now(), lag, producers, warningWindowDays: this.config.expiryWarningDays };
  }

  /** Each producer's signed answer: the newest event it has committed (or why there is none). */
  private newestEvents(): Promise<NewestEvent[]> {
    return Promise.all(
      [...this.producers].map(async ([source, producer]): Promise<NewestEvent> => {
        try {
          const reply = await producer.request(this.names.newestEvent(source), {}, NewestEventReplyV1);
          return { source, newestEventId: reply.eventId };
        } catch (error) {
          return { source, error: (error as Error).message };
        }
      }),
    );
  }

  private async lag(): Promise<ConsumerLag[]> {
    try {
      this.jsm ??= jetstreamManager(this.bus.nats, { checkAPI: false });
      return await readConsumerLag(await this.jsm, projectionConsumers(this.names));
    } catch (error) {
      this.jsm = undefined;
      const message = (error as Error).message;
      return projectionConsumers(this.names).map(({ stream }) => ({ stream, error: message }));
    }
  }
}
