import pg from 'pg';
import type { BusNames, EventEnvelope } from '../contracts/index.js';
import { pgClientConfig } from '../database/postgres.js';
import { doublingDelay, retry } from '../runtime/retry.js';
import type { PostgresSettings } from '../config/service-config.js';
import { notifyChannelOf } from './event-store.migration.js';
import type { PubAckPublisher } from '../messaging/pub-ack-publisher.js';
import {
  EVENT_KEY_ID_HEADER,
  EVENT_SIGNATURE_HEADER,
  signEvent,
  type EventSigningKey,
} from '../event-signing/event-signature.js';
import { toStoredEvent, type AppendedData, type EventRow, type StoredEvent } from './event-store.js';

/** A position in the outbox's commit-safe order, and the stream sequence JetStream gave the event there. */
interface Position {
  transaction_id: string;
  global_position: string;
  /** The highest sequence the relay's stream acknowledged up to this position ('0' when not known). */
  stream_seq: string;
  /** The event whose message the stream holds at `stream_seq` (null when none of the relay's is known there). */
  event_id: string | null;
}

const START: Position = { transaction_id: '0', global_position: '0', stream_seq: '0', event_id: null };

/** A row of a round's read: an event without its data. */
type RoundRow = Omit<EventRow, 'data'>;

/** What the relay reports to metrics and health. */
export interface RelayObserver {
  published(count: number): void;
  /** A round failed; `attempt` counts the failures in a row (1 after a success), as the backoff does. */
  failed(error: Error, attempt: number): void;
  /** The stream holds less than the relay had published; it republishes from the event named in `detail`. */
  lossDetected?(detail: string): void;
  /** Events published again because the stream had lost them. */
  republished?(count: number): void;
  /**
   * Committed events not yet published, as the last round saw them: exact when the round read less than a batch,
   * else counted (up to RELAY_BACKLOG_COUNT_LIMIT) at most every RELAY_BACKLOG_COUNT_INTERVAL_MS. 0 on a standby.
   */
  backlog?(events: number): void;
  /** Whether this instance holds the relay's lock (publishes) or waits as a standby. */
  leader?(isLeader: boolean): void;
}

/**
 * What the relay asks JetStream about its own stream, to notice that it lost acknowledged messages: a tail lost in
 * a crash or power loss (nats-server acknowledges before its disk has them), a purge, a re-created stream.
 */
export interface PublishedStream {
  /** How many messages the stream holds and the sequences of its first and last one. */
  state(): Promise<{ readonly messages: number; readonly firstSeq: number; readonly lastSeq: number }>;
  /** The `Nats-Msg-Id` of the message stored at `seq`, or null when the stream has none there. */
  messageIdAt(seq: number): Promise<string | null>;
  /** The client's current connection to the server: a new value after every reconnect (undefined while none). */
  connection(): object | undefined;
}

export interface OutboxRelayOptions {
  readonly postgres: PostgresSettings;
  /** Publishes a round's events and awaits their PubAcks. */
  readonly publisher: Pick<PubAckPublisher, 'publishAll'>;
  readonly names: BusNames;
  readonly observer?: RelayObserver;
  /** Events read and published per round; all of a round's PubAcks are awaited together. */
  readonly batchSize?: number;
  /** Longest wait between rounds when no NOTIFY arrives (events of a long transaction, missed notifies). */
  readonly pollIntervalMs?: number;
  readonly relayName?: string;
  /** Signs every published event (the services always pass their key; tests of the relay alone may not). */
  readonly signer?: EventSigningKey;
  /** The relay's stream, audited for lost messages (the services always pass it; tests of the relay alone may not). */
  readonly stream?: PublishedStream;
  /** How often the stream is audited besides at start, after a reconnect and on every round's PubAcks. */
  readonly auditIntervalMs?: number;
  /** The data of events this process appended (its EventStore's): published as held, not read back. */
  readonly appended?: AppendedData;
}

/** The stream is audited at least this often (a lost tail is otherwise noticed by the next publish). */
export const RELAY_AUDIT_INTERVAL_MS = 10_000;

/**
 * After a loss, the relay looks back through at most this many messages (other producers' among them) for the newest
 * of its own the stream still holds; finding none, it publishes everything again from the start.
 */
export const RELAY_LOSS_SEARCH_LIMIT = 1_000;

/**
 * A backlog larger than a batch is counted at most this often (an index range scan as long as the backlog, so not
 * once per round while the relay catches up); in between it is the last count less what was published since.
 */
export const RELAY_BACKLOG_COUNT_INTERVAL_MS = 5_000;
/** The backlog is counted up to this many events, so one count reads at most as many index entries. */
export const RELAY_BACKLOG_COUNT_LIMIT = 1_000_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The id of the event a published message carries: its `Nats-Msg-Id`, less the tag of a republished copy. */
export function eventIdOfMessageId(msgId: string): string {
  return msgId.split('~')[0]!;
}

/** Whether `a` comes after `b` in the outbox's order. */
function isAfter(a: Pick<Position, 'transaction_id' | 'global_position'>, b: Position): boolean {
  const ax = BigInt(a.transaction_id);
  const bx = BigInt(b.transaction_id);
  return ax > bx || (ax === bx && BigInt(a.global_position) > BigInt(b.global_position));
}

/**
 * How soon the relay looks again while committed events wait behind an older running transaction: 5 ms,
 * doubling while the wait goes on (a long transaction elsewhere) up to 200 ms, back to 5 ms after a publish.
 */
const HELD_BACK_RETRY_MS = { first: 5, max: 200 } as const;
/** How long the relay waits for a round's PubAcks before it counts the round as failed. */
export const RELAY_PUBLISH_TIMEOUT_MS = 5000;
/**
 * How long the relay waits for JetStream to say anything: the first PubAck of a round (and each next one), or the
 * answer to a question about its stream (the audit). JetStream answers within milliseconds when it can; one that says
 * nothing for a second is not storing the round (a cluster still electing its leaders after a restart), and asking
 * again goes through as soon as it can. Waiting out RELAY_PUBLISH_TIMEOUT_MS, or the connection's 5 s for the audit,
 * could leave the relay waiting up to 10 s after its stream answered again (decisions §52).
 */
export const RELAY_JETSTREAM_SILENCE_MS = 1000;
/**
 * The longest pause between two attempts of a failed round (the backoff doubles from 100 ms up to this). A failed
 * attempt is also how the relay finds JetStream back, so with RELAY_JETSTREAM_SILENCE_MS this bounds how long after
 * its stream answers again the relay publishes on: 3 s (up to 10 s with a 5 s cap and 5 s timeouts).
 */
export const RELAY_MAX_BACKOFF_MS = 2000;
const RELAY_POLL_INTERVAL_MS = 1000;
/**
 * The relay's retry horizon: while PostgreSQL and NATS answer, an event whose PubAck did not arrive is
 * published again within one PubAck timeout, one backoff and one poll interval. JetStream's duplicate window
 * must be longer (see streams.ts) so that `Nats-Msg-Id` drops every such copy.
 */
export const RELAY_RETRY_HORIZON_MS = RELAY_PUBLISH_TIMEOUT_MS + RELAY_MAX_BACKOFF_MS + RELAY_POLL_INTERVAL_MS;

/**
 * The envelope published for a stored event; its `eventId` is also the `Nats-Msg-Id` (with a `~<tag>` suffix when
 * the relay republishes events its stream lost, so that JetStream cannot drop them as copies).
 */
export function envelopeOf(event: StoredEvent): EventEnvelope {
  return {
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    streamId: event.streamId,
    streamVersion: event.streamVersion,
    occurredAt: event.occurredAt,
    data: event.data,
    metadata: event.metadata,
  } as EventEnvelope;
}

/** What a round reads of each event: all but its data, which comes from AppendedData or OUTBOX_DATA_SQL. */
const ROUND_COLUMNS = 'event_id, event_type, schema_version, stream_id, stream_version, global_position, occurred_at, metadata';

/** The data of the events at the global positions $1 (the primary key): those the relay's process does not hold. */
export const OUTBOX_DATA_SQL = 'SELECT global_position::text, data FROM events WHERE global_position = ANY($1::bigint[])';

/**
 * A relay round's read: $1, $2 the checkpoint (transaction id, global position), $3 the batch size.
 * One statement, one snapshot: the batch (committed events below the oldest running transaction), and
 * whether events after the checkpoint wait behind such a transaction. Every event after the checkpoint
 * below that horizon is in the batch unless it is full, so "held back after the checkpoint" is also "held
 * back after the batch". A row of nulls but held_back when the batch is empty.
 * Both reads are the first index entries after the checkpoint in index order (ORDER BY … LIMIT), which every
 * plan reads through the index: the custom plan for the actual checkpoint, the generic plan of the prepared
 * statement, and a plan made without statistics. An EXISTS for the held-back test was costed as a sequential
 * scan that stops at the first match when the checkpoint lay past the table's statistics, and when nothing
 * was held back (the usual case) that scan read the whole table on every round (10 ms at 27,000 events,
 * growing with the store). The ORDER BYs name the xid8 column: an ORDER BY by the text alias
 * `transaction_id` would sort '10000' before '9999'.
 */
export const OUTBOX_ROUND_SQL = `WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
        batch AS (
          SELECT ${ROUND_COLUMNS}, transaction_id AS xid
            FROM events
           WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
             AND transaction_id < (SELECT xmin FROM horizon)
           ORDER BY events.transaction_id, events.global_position
           LIMIT $3)
   SELECT batch.*, batch.xid::text AS transaction_id, held.held_back
     FROM (SELECT (SELECT events.transaction_id FROM events
                    WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
                      AND transaction_id >= (SELECT xmin FROM horizon)
                    ORDER BY events.transaction_id, events.global_position
                    LIMIT 1) IS NOT NULL AS held_back) held
     LEFT JOIN batch ON true
    ORDER BY batch.xid, batch.global_position`;

/**
 * Publishes committed events to JetStream in commit-safe order, then advances a checkpoint.
 *
 * Order: events are read by (transaction_id, global_position), and only from transactions older than the
 * oldest transaction still running (`pg_snapshot_xmin`). A position allocated by a transaction that has not
 * committed yet is therefore never skipped: the relay waits until that transaction ends. Nothing is
 * published before it commits.
 *
 * At-least-once: the checkpoint advances only after every PubAck of a round arrived. A crash or a NATS
 * outage in between republishes the round, and JetStream drops the copies by `Nats-Msg-Id`.
 *
 * One relay per database: a session advisory lock elects it; other instances wait as hot standbys.
 *
 * Loss: the checkpoint also keeps the stream sequence of the last PubAck. When the stream later holds less (its last
 * sequence is lower, it is empty, a new PubAck comes back at or below that sequence, or the message at that sequence
 * is no longer the checkpoint's event: other producers' messages may have refilled a lost tail), JetStream lost
 * messages it had acknowledged. The relay then moves its checkpoint back to the newest of its events the stream still
 * holds and publishes everything after it again, signed as always. It looks at start, after NATS reconnects, every
 * `auditIntervalMs`, and on every round (its PubAcks; the message at the checkpoint's sequence when the connection
 * changed or other messages were stored since its last). Consumers' inboxes drop whatever they had already applied.
 */
export class OutboxRelay {
  private client: pg.Client | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastError: Error | undefined;
  private leader = false;
  /** A commit was signalled since the current round read the events: run another round before sleeping. */
  private notified = false;
  /**
   * The checkpoint as this leader last wrote (or first read) it. Only the leader writes it, under the lock it
   * holds on this connection, so it is read from the table once per connection, not once per round.
   */
  private checkpoint: Position | undefined;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly relayName: string;
  private readonly auditIntervalMs: number;
  /** When the stream was last audited (ms); 0 makes the next round audit first. */
  private lastAudit = 0;
  /** While republishing after a loss: the last event to republish, and the tag that makes the copies new ids. */
  private recovery: { readonly until: Position; readonly tag: string } | undefined;
  /**
   * The newest checkpoint whose message was read back and found in place, and the connection it was read on.
   * A round reads its checkpoint's message again only when that connection changed (a reconnect: where a lost tail
   * shows) or other messages were stored since the relay's last (a gap in the sequences): one read cost, measured,
   * 98–131 µs of the service's CPU and about as much of nats-server's (decisions §34). The audit reads this one too, so a tail
   * refilled up to exactly the acknowledged sequence is noticed even after the relay has published past it.
   */
  private verified: { readonly position: Position; readonly connection: object | undefined } | undefined;
  /** The last backlog count of a full batch and when it was taken (ms), or undefined to count again. */
  private backlogCount: { events: number; at: number } | undefined;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 1000;
    this.pollIntervalMs = options.pollIntervalMs ?? RELAY_POLL_INTERVAL_MS;
    this.relayName = options.relayName ?? 'jetstream';
    this.auditIntervalMs = options.auditIntervalMs ?? RELAY_AUDIT_INTERVAL_MS;
  }

  /** True once this instance holds the relay lock and its last round succeeded. */
  get healthy(): boolean {
    return this.running && this.lastError === undefined;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the round in progress (its PubAcks and checkpoint) and stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Audits the stream before the next round, e.g. after NATS reconnected (it may have restarted with less). */
  auditSoon(): void {
    this.lastAudit = 0;
    this.poke();
  }

  /** Wakes the relay now, e.g. right after a commit in this process. */
  poke(): void {
    this.notified = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    let heldBackMs: number = HELD_BACK_RETRY_MS.first;
    while (this.running) {
      // A failing turn (PostgreSQL or NATS away) is retried with a doubling pause, until one succeeds or the relay stops.
      const turn = await retry(() => this.turn(), {
        delayMs: doublingDelay(100, RELAY_MAX_BACKOFF_MS),
        stopped: () => !this.running,
        onFailure: async (error, attempt) => {
          this.lastError = error as Error;
          this.options.observer?.failed(error as Error, attempt);
          await this.dropClientIfBroken();
          this.notified = false; // back off even while commits keep signalling
        },
        sleep: (ms) => this.sleep(ms),
      }).catch(() => undefined); // stopping
      if (!turn) continue;
      if (turn === 'standby') {
        await this.sleep(this.pollIntervalMs);
        continue;
      }
      const { published, heldBack } = turn;
      this.lastError = undefined;
      if (published > 0 || !heldBack) heldBackMs = HELD_BACK_RETRY_MS.first;
      if (published < this.batchSize) {
        await this.sleep(heldBack ? heldBackMs : this.pollIntervalMs);
        if (heldBack) heldBackMs = Math.min(heldBackMs * 2, HELD_BACK_RETRY_MS.max);
      }
    }
    await this.closeClient();
  }

  /** Connects (and tries for the lock) if need be; as the leader, audits when due and publishes one round. */
  private async turn(): Promise<'standby' | { published: number; heldBack: boolean }> {
    await this.ensureClient();
    if (!this.leader) return 'standby';
    if (this.options.stream && Date.now() - this.lastAudit >= this.auditIntervalMs) await this.audit(this.options.stream);
    return this.round();
  }

  /**
   * Publishes one batch; says how many events it published and whether committed events are held back
   * behind an older transaction still running (on any database of the server: `pg_snapshot_xmin` is
   * cluster-wide). Such a transaction may end without a NOTIFY, so the relay then looks again shortly
   * rather than at its slow poll.
   */
  private async round(): Promise<{ published: number; heldBack: boolean }> {
    const client = this.client!;
    this.notified = false;
    const from = this.checkpoint ?? (await this.readCheckpoint(client));
    // One statement, one snapshot, prepared: planning it cost more than running it.
    const result = await client.query<Partial<RoundRow> & { transaction_id: string | null; held_back: boolean }>({
      name: 'outbox-relay.round',
      text: OUTBOX_ROUND_SQL,
      values: [from.transaction_id, from.global_position, this.batchSize],
    });
    const heldBack = result.rows[0]?.held_back === true;
    const rows = result.rows.filter((r) => r.transaction_id !== null) as (RoundRow & { transaction_id: string })[];
    // Reported before publishing, so that a NATS outage shows as a backlog that grows.
    if (rows.length < this.batchSize) this.backlogCount = undefined;
    const backlog = rows.length < this.batchSize ? rows.length : await this.countBacklog(client, from);
    this.options.observer?.backlog?.(backlog);
    if (rows.length === 0) return { published: 0, heldBack };
    const { publisher, names, signer } = this.options;
    const recovery = this.recovery;
    const republished = recovery ? rows.filter((row) => !isAfter(row, recovery.until)).length : 0;
    const data = await this.dataOf(client, rows);
    const publishedSeq = Number(from.stream_seq);
    const stream = this.options.stream;
    // Publishes are written to the socket in order, so JetStream stores them in commit order; the
    // PubAcks are awaited together so one round costs one round trip, not one per event.
    const acks = await publisher.publishAll(
      rows.map((row, i) => {
        const envelope = envelopeOf(toStoredEvent({ ...row, data: data[i] }));
        const subject = names.subjectOf(envelope);
        const msgId = i < republished ? `${envelope.eventId}~${recovery!.tag}` : envelope.eventId;
        if (!signer) return { subject, data: JSON.stringify(envelope), msgId };
        const signed = signEvent(envelope, subject, signer);
        return {
          subject,
          data: signed.body,
          msgId,
          headers: { [EVENT_KEY_ID_HEADER]: signed.keyId, [EVENT_SIGNATURE_HEADER]: signed.signature },
        };
      }),
      { timeoutMs: RELAY_PUBLISH_TIMEOUT_MS, silenceMs: RELAY_JETSTREAM_SILENCE_MS },
    );
    // A stream that stores a new message at or below a sequence it acknowledged before has gone back: it lost
    // its tail since (a restart after a power loss, a re-created stream). What it held ends just below.
    const lowestStored = Math.min(...acks.filter((a) => !a.duplicate).map((a) => a.seq));
    if (stream && lowestStored <= publishedSeq) {
      await this.rewind(client, stream, lowestStored - 1, publishedSeq);
      return { published: 0, heldBack: false };
    }
    // Another producer's messages may have refilled a lost tail, where sequences alone look right: after a reconnect,
    // or when other messages were stored since the relay's last, its checkpoint's message is read back.
    const gap = lowestStored !== Infinity && lowestStored > publishedSeq + 1;
    if (stream && (gap || stream.connection() !== this.verified?.connection) && !(await this.stillHolds(stream, from))) {
      await this.rewind(client, stream, publishedSeq, publishedSeq);
      return { published: 0, heldBack: false };
    }
    const last = rows[rows.length - 1]!;
    // The highest sequence acknowledged so far and the event there (a duplicate's PubAck names its first copy's).
    const top = acks.reduce(
      (highest, ack, i) => (ack.seq > highest.seq ? { seq: ack.seq, eventId: rows[i]!.event_id } : highest),
      { seq: publishedSeq, eventId: from.event_id },
    );
    const position: Position = {
      transaction_id: last.transaction_id,
      global_position: String(last.global_position),
      stream_seq: String(top.seq),
      event_id: top.eventId,
    };
    await this.writeCheckpoint(client, position);
    this.options.observer?.published(rows.length);
    this.options.observer?.backlog?.(Math.max(0, backlog - rows.length));
    if (this.backlogCount) this.backlogCount.events = Math.max(0, this.backlogCount.events - rows.length);
    if (republished > 0) this.options.observer?.republished?.(republished);
    if (recovery && !isAfter(recovery.until, position)) this.recovery = undefined;
    return { published: rows.length, heldBack: rows.length < this.batchSize && heldBack };
  }

  /**
   * The data of each of a round's events: as this process appended it where it still holds it (taken: a failed
   * round reads it back next time), the rest read from the outbox in one statement.
   */
  private async dataOf(client: pg.Client, rows: readonly RoundRow[]): Promise<unknown[]> {
    const held = rows.map((row) => this.options.appended?.take(row.event_id));
    const missing = rows.filter((_, i) => held[i] === undefined).map((row) => String(row.global_position));
    if (missing.length === 0) return held;
    const read = await client.query<{ global_position: string; data: unknown }>({
      name: 'outbox-relay.data',
      text: OUTBOX_DATA_SQL,
      values: [missing],
    });
    const dataAt = new Map(read.rows.map((r) => [r.global_position, r.data]));
    return rows.map((row, i) => {
      const data = held[i] ?? dataAt.get(String(row.global_position));
      if (data === undefined) throw new Error(`the outbox has no data for the event at global position ${row.global_position}`);
      return data;
    });
  }

  /**
   * Compares the stream with what the relay published into it. Fewer messages than it acknowledged (its last
   * sequence below the checkpoint's, or none at all where there were some), or another message where the checkpoint's
   * event was acknowledged, means JetStream lost them.
   */
  private async audit(stream: PublishedStream): Promise<void> {
    const client = this.client!;
    const from = this.checkpoint ?? (await this.readCheckpoint(client));
    const state = await stream.state();
    this.lastAudit = Date.now();
    const publishedSeq = Number(from.stream_seq);
    if (publishedSeq === 0) return;
    // An empty stream (purged, re-created) still holds nothing of ours, whatever its sequence says.
    if (state.messages === 0 || state.lastSeq < publishedSeq) {
      await this.rewind(client, stream, state.messages === 0 ? 0 : state.lastSeq, publishedSeq);
      return;
    }
    // What was read back before must still be there: if not, the relay may since have published past a refilled
    // tail, and nothing after that earlier message can be trusted.
    const earlier = this.verified?.position;
    if (earlier && earlier.stream_seq !== from.stream_seq && !(await this.holds(stream, earlier))) {
      await this.rewind(client, stream, Number(earlier.stream_seq), publishedSeq);
      return;
    }
    if (!(await this.stillHolds(stream, from))) await this.rewind(client, stream, publishedSeq, publishedSeq);
  }

  /** Whether the stream holds, at a checkpoint's sequence, the event the checkpoint names (if it names one). */
  private async holds(stream: PublishedStream, checkpoint: Position): Promise<boolean> {
    if (checkpoint.event_id === null) return true;
    const msgId = await stream.messageIdAt(Number(checkpoint.stream_seq));
    return msgId !== null && eventIdOfMessageId(msgId).toLowerCase() === checkpoint.event_id;
  }

  /** holds() for the current checkpoint; remembers it as verified (on the connection it was read on) when it does. */
  private async stillHolds(stream: PublishedStream, checkpoint: Position): Promise<boolean> {
    const connection = stream.connection();
    const held = await this.holds(stream, checkpoint);
    if (held) this.verified = { position: checkpoint, connection };
    return held;
  }

  /**
   * Moves the checkpoint back to the newest of the relay's events the stream still holds at or below `seq` (the
   * start when it holds none of them), so the next rounds publish everything after it again, under new message ids.
   */
  private async rewind(client: pg.Client, stream: PublishedStream, seq: number, publishedSeq: number): Promise<void> {
    const newest = this.checkpoint!;
    const position = (await this.newestHeld(client, stream, seq)) ?? { ...START, stream_seq: String(Math.max(seq, 0)) };
    await this.writeCheckpoint(client, position);
    this.verified = position.event_id === null ? undefined : { position, connection: stream.connection() };
    this.backlogCount = undefined;
    this.recovery = { until: newest, tag: Date.now().toString(36) };
    this.notified = true; // republish at once, not after the poll interval
    const heldSeq = position.global_position === START.global_position ? 0 : Number(position.stream_seq);
    this.options.observer?.lossDetected?.(
      `the stream holds its messages up to sequence ${heldSeq} but had acknowledged up to ${publishedSeq}: ` +
        `republishing every event after ${heldSeq === 0 ? 'the start' : `global position ${position.global_position}`}`,
    );
  }

  /**
   * The position of the newest message at or below `seq` that carries one of the relay's events, with its sequence;
   * other producers' messages are passed over, at most RELAY_LOSS_SEARCH_LIMIT messages are looked at.
   */
  private async newestHeld(client: pg.Client, stream: PublishedStream, seq: number): Promise<Position | undefined> {
    const { firstSeq } = await stream.state();
    for (let at = seq; at >= Math.max(firstSeq, 1, seq - RELAY_LOSS_SEARCH_LIMIT + 1); at--) {
      const msgId = await stream.messageIdAt(at);
      const eventId = msgId === null ? null : eventIdOfMessageId(msgId);
      if (eventId === null || !UUID.test(eventId)) continue;
      const { rows } = await client.query<Omit<Position, 'stream_seq'>>(
        'SELECT transaction_id::text, global_position::text, event_id::text FROM events WHERE event_id = $1::uuid',
        [eventId],
      );
      if (rows[0]) return { ...rows[0], stream_seq: String(at) };
    }
    return undefined;
  }

  /**
   * Committed events after `from` (below the oldest running transaction), up to RELAY_BACKLOG_COUNT_LIMIT: counted
   * when the last count is older than RELAY_BACKLOG_COUNT_INTERVAL_MS, else the last count less what was published.
   */
  private async countBacklog(client: pg.Client, from: Position): Promise<number> {
    const last = this.backlogCount;
    if (last && Date.now() - last.at < RELAY_BACKLOG_COUNT_INTERVAL_MS) return Math.max(last.events, this.batchSize);
    const { rows } = await client.query<{ events: string }>(
      `SELECT count(*)::text AS events FROM (
         SELECT 1 FROM events
          WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          LIMIT $3) backlog`,
      [from.transaction_id, from.global_position, RELAY_BACKLOG_COUNT_LIMIT],
    );
    this.backlogCount = { events: Number(rows[0]?.events ?? 0), at: Date.now() };
    return this.backlogCount.events;
  }

  private async writeCheckpoint(client: pg.Client, position: Position): Promise<void> {
    await client.query({
      name: 'outbox-relay.checkpoint',
      text: `INSERT INTO relay_checkpoints (relay, transaction_id, global_position, stream_seq, stream_event_id, updated_at)
             VALUES ($1, $2::xid8, $3, $4, $5, now())
             ON CONFLICT (relay) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
               global_position = EXCLUDED.global_position, stream_seq = EXCLUDED.stream_seq,
               stream_event_id = EXCLUDED.stream_event_id, updated_at = now()`,
      values: [this.relayName, position.transaction_id, position.global_position, position.stream_seq, position.event_id],
    });
    this.checkpoint = position;
  }

  private async readCheckpoint(client: pg.Client): Promise<Position> {
    const { rows } = await client.query<Position>(
      `SELECT transaction_id::text, global_position::text, stream_seq::text, stream_event_id::text AS event_id
         FROM relay_checkpoints WHERE relay = $1`,
      [this.relayName],
    );
    this.checkpoint = rows[0] ?? START;
    return this.checkpoint;
  }

  private async ensureClient(): Promise<void> {
    if (this.client) return;
    const client = new pg.Client(pgClientConfig(this.options.postgres));
    client.on('error', () => {
      // A dropped connection surfaces as a failed query in the loop, which reconnects.
    });
    await client.connect();
    this.client = client;
    const schema = this.options.postgres.schema;
    await client.query(`LISTEN ${pg.escapeIdentifier(notifyChannelOf(schema))}`);
    client.on('notification', () => this.poke());
    const lock = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [
      `${schema}.outbox-relay.${this.relayName}`,
    ]);
    this.leader = lock.rows[0]?.locked === true;
    this.options.observer?.leader?.(this.leader);
    if (this.leader) {
      // The checkpoint is the relay's only write. Losing its last advances in a crash of PostgreSQL only makes
      // the relay publish those events again, which JetStream (Nats-Msg-Id) and the inboxes drop; so its commits
      // need not wait for the WAL fsync (the events themselves were committed durably by their writers).
      await client.query('SET synchronous_commit = off');
    } else {
      // Not elected: reconnect after a while and try again (the leader may have died).
      await this.closeClient();
    }
  }

  private async dropClientIfBroken(): Promise<void> {
    if (!this.client) return;
    try {
      await this.client.query('SELECT 1');
    } catch {
      await this.closeClient();
    }
  }

  private async closeClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (this.leader) this.options.observer?.backlog?.(0); // a standby reports none: the leader reports the backlog
    this.leader = false;
    this.options.observer?.leader?.(false);
    this.checkpoint = undefined;
    this.backlogCount = undefined;
    this.lastAudit = 0; // a new leader (or connection) audits before it publishes
    if (client) await client.end().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running || this.notified) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
