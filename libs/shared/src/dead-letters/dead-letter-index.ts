import type { DataSource } from 'typeorm';
import type { EventEnvelope } from '../contracts/index.js';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { isTransientDatabaseError } from '../database/postgres.js';
import type { DeadLetterReason, MessageDecoder } from '../messaging/decode-event.js';
import { deadLetterKey, recordToHeaders, type DeadLetter } from '../messaging/dead-letters.js';
import type { BatchHandler, DurableConsumerSpec, RefusedEvent } from '../messaging/durable-consumer.js';
import type { BusNames } from '../contracts/index.js';

/** A dead letter as the API shows it. */
export interface DeadLetterView {
  readonly id: number;
  readonly consumer: string;
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly stream: string;
  readonly streamSequence: number;
  readonly subject: string;
  readonly deliveries: number;
  readonly headers: Record<string, string[]>;
  /** The original bytes as UTF-8 text, and exactly, as base64. */
  readonly body: string;
  readonly bodyBase64: string;
  readonly deadLetteredAt: string;
  readonly replayedAt: string | null;
}

export interface DeadLetterQuery {
  readonly consumer?: string;
  readonly reason?: DeadLetterReason;
  readonly limit: number;
  /** Only letters older (smaller id) than this one: the cursor of the next page. */
  readonly before?: number;
}

export interface DeadLetterPage {
  readonly items: DeadLetterView[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  readonly nextBefore: number | null;
}

/** Why a replay did not apply the letter. */
export type ReplayRefusal =
  | { readonly kind: 'not-found' }
  | { readonly kind: 'already-replayed'; readonly replayedAt: string }
  | { readonly kind: 'still-invalid'; readonly reason: DeadLetterReason; readonly detail: string }
  | { readonly kind: 'failed'; readonly error: Error };

export type ReplayOutcome = { readonly ok: true; readonly letter: DeadLetterView } | ({ readonly ok: false } & ReplayRefusal);

interface Row {
  id: string;
  consumer: string;
  reason: DeadLetterReason;
  detail: string;
  stream: string;
  stream_sequence: string;
  subject: string;
  deliveries: number;
  headers: Record<string, string[]>;
  body: Buffer;
  dead_lettered_at: Date;
  replayed_at: Date | null;
}

const COLUMNS =
  'id, consumer, reason, detail, stream, stream_sequence, subject, deliveries, headers, body, dead_lettered_at, replayed_at';

function view(row: Row): DeadLetterView {
  return {
    id: Number(row.id),
    consumer: row.consumer,
    reason: row.reason,
    detail: row.detail,
    stream: row.stream,
    streamSequence: Number(row.stream_sequence),
    subject: row.subject,
    deliveries: row.deliveries,
    headers: row.headers,
    body: row.body.toString('utf8'),
    bodyBase64: row.body.toString('base64'),
    deadLetteredAt: row.dead_lettered_at.toISOString(),
    replayedAt: row.replayed_at?.toISOString() ?? null,
  };
}

/** The durable consumers that index a service's dead letters: one per consumer name, on its own subject. */
export function deadLetterIndexConsumers(names: BusNames, consumers: readonly DurableConsumerSpec[]): DurableConsumerSpec[] {
  const durables = [...new Set(consumers.map((c) => c.durable))];
  return durables.map((durable) => ({
    stream: names.deadLetterStream,
    durable: `${durable}-dead-letter-index`,
    filterSubject: names.deadLetterSubject(durable),
    // Indexing only fails while the database does (retried in-process); never give a letter up.
    maxDeliver: -1,
  }));
}

/**
 * A consuming service's dead letters in its database: written by the index consumer (one row per original
 * message, whatever the copies), listed newest first, and replayed through the consumer's own handler.
 */
export class DeadLetterIndex {
  constructor(private readonly dataSource: DataSource) {}

  /** The index consumer's batch handler. */
  readonly record: BatchHandler<DeadLetter> = async (letters) => {
    if (letters.length === 0) return;
    const values: unknown[] = [];
    const tuples = letters.map((l, i) => {
      values.push(
        deadLetterKey(l.stream, l.streamSequence, l.consumer),
        l.consumer,
        l.reason,
        l.detail,
        l.stream,
        l.streamSequence,
        l.subject,
        l.deliveries,
        JSON.stringify(l.headers),
        Buffer.from(l.body),
        l.deadLetteredAt,
      );
      const p = i * 11;
      return `(${Array.from({ length: 11 }, (_, k) => `$${p + k + 1}${k === 8 ? '::jsonb' : ''}`).join(', ')})`;
    });
    await this.dataSource.query(
      `INSERT INTO dead_letters (original, consumer, reason, detail, stream, stream_sequence, subject, deliveries,
                                 headers, body, dead_lettered_at)
       VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`,
      values,
    );
  };

  /** Letters not yet replayed, newest first. */
  async list(query: DeadLetterQuery): Promise<DeadLetterPage> {
    const where = ['replayed_at IS NULL'];
    const params: unknown[] = [];
    if (query.consumer) where.push(`consumer = $${params.push(query.consumer)}`);
    if (query.reason) where.push(`reason = $${params.push(query.reason)}`);
    if (query.before) where.push(`id < $${params.push(query.before)}`);
    const rows: Row[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM dead_letters WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.push(query.limit + 1)}`,
      params,
    );
    const items = rows.slice(0, query.limit).map(view);
    return { items, nextBefore: rows.length > query.limit ? items[items.length - 1]!.id : null };
  }

  /**
   * Decodes the stored message again and applies it with `handler` (the consumer's), then marks it replayed.
   * The row stays locked meanwhile, so two replays of one letter cannot both apply it; a letter that is still
   * poison, or whose handler fails, stays listed. A transient database error is thrown as is.
   */
  async replay(id: number, decode: MessageDecoder<EventEnvelope>, handler: BatchHandler): Promise<ReplayOutcome> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const rows = (await runner.query(`SELECT ${COLUMNS} FROM dead_letters WHERE id = $1 FOR UPDATE`, [id])) as Row[];
      const row = rows[0];
      const refuse = async (refusal: ReplayRefusal): Promise<ReplayOutcome> => {
        await runner.rollbackTransaction();
        return { ok: false, ...refusal };
      };
      if (!row) return await refuse({ kind: 'not-found' });
      if (row.replayed_at) return await refuse({ kind: 'already-replayed', replayedAt: row.replayed_at.toISOString() });
      const decoded = decode({
        subject: row.subject,
        data: new Uint8Array(row.body),
        headers: recordToHeaders(row.headers) ?? natsHeaders(),
      });
      if (!decoded.ok) return await refuse({ kind: 'still-invalid', reason: decoded.reason, detail: decoded.detail });
      let refused: readonly RefusedEvent[];
      try {
        // No stream position: a replay is a new delivery, so an event applied before answers REPLAYED.
        refused = (await handler([decoded.value])) ?? [];
      } catch (error) {
        if (isTransientDatabaseError(error)) throw error;
        return await refuse({ kind: 'failed', error: error as Error });
      }
      if (refused[0]) return await refuse({ kind: 'still-invalid', reason: refused[0].reason, detail: refused[0].detail });
      // (TypeORM returns [rows, count] for an UPDATE, so the row is read back with a SELECT.)
      await runner.query('UPDATE dead_letters SET replayed_at = now() WHERE id = $1', [id]);
      const updated = (await runner.query(`SELECT ${COLUMNS} FROM dead_letters WHERE id = $1`, [id])) as Row[];
      await runner.commitTransaction();
      return { ok: true, letter: view(updated[0]!) };
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }
}
