/**
 * The benchmark's share of PostgreSQL and NATS: its database (created if missing), schemas it drops
 * afterwards, the streams of its bus namespaces (deleted afterwards), and the progress of a durable
 * consumer as JetStream reports it.
 */
import pg from 'pg';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { BusNames } from '#shared/contracts';
import { ensureEventStream } from '#shared';
import { NATS_URL, PG, RUN_ID } from './config.js';

/** A client on the benchmark database (created if missing). */
export async function benchDatabase(applicationName = 'bench'): Promise<pg.Client> {
  const admin = new pg.Client({ ...PG, database: 'postgres' });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG.database]);
    if (rowCount === 0) {
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(PG.database)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await admin.end();
  }
  const client = new pg.Client({ ...PG, application_name: applicationName });
  await client.connect();
  return client;
}

/** Drops every schema of this run (`bench_<run>_...`). */
export async function dropRunSchemas(db: pg.Client): Promise<string[]> {
  const { rows } = await db.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [
    `bench\\_${RUN_ID}\\_%`,
  ]);
  for (const { nspname } of rows) await db.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(nspname)} CASCADE`);
  return rows.map((r) => r.nspname);
}

export async function connectNats(name = 'bench'): Promise<NatsConnection> {
  return connect({ servers: NATS_URL, name });
}

/**
 * The benchmark's stream byte limit (its services get it as STREAM_MAX_BYTES): the rebuild reads a million
 * events from the streams' start, close to the 1 GiB default, and must find every one still there.
 */
export const BENCH_STREAM_MAX_BYTES = 4 * 1024 ** 3;

/** The PAIRING and LICENSING streams of a namespace, with the settings the services give them. */
export async function ensureSourceStreams(jsm: JetStreamManager, names: BusNames): Promise<void> {
  const limits = { maxBytes: BENCH_STREAM_MAX_BYTES };
  await ensureEventStream(jsm, names, 'pairing', limits);
  await ensureEventStream(jsm, names, 'licensing', limits);
  await ensureEventStream(jsm, names, 'sync-agent', limits);
}

/** Deletes every stream of this run's namespaces (names start with `BENCH_<RUN>_`). */
export async function deleteRunStreams(nc: NatsConnection): Promise<string[]> {
  // busNames upper-cases the namespace: `bench_<run>_<part>` becomes streams `BENCH_<RUN>_<PART>_...`.
  const prefix = `BENCH_${RUN_ID.toUpperCase()}_`;
  const jsm = await jetstreamManager(nc);
  const deleted: string[] = [];
  for await (const name of jsm.streams.names()) {
    if (!name.startsWith(prefix)) continue;
    await jsm.streams.delete(name);
    deleted.push(name);
  }
  return deleted;
}

/** A durable consumer on a stream. */
export interface ConsumerRef {
  readonly stream: string;
  readonly durable: string;
}

/** How far consumers have got: `processed` = acked or terminated; `delivered` = handed out at least once. */
export interface ConsumerProgress {
  readonly exists: boolean;
  readonly processed: number;
  readonly delivered: number;
  readonly redelivered: number;
}

/**
 * Progress of consumers that together read `total` messages: what is neither pending delivery nor awaiting
 * an ack has been processed. A consumer that does not exist yet counts as nothing processed.
 */
export async function consumerProgress(
  jsm: JetStreamManager,
  refs: readonly ConsumerRef[],
  total: number,
): Promise<ConsumerProgress> {
  let outstanding = 0;
  let delivered = 0;
  let redelivered = 0;
  let exists = true;
  for (const ref of refs) {
    try {
      const info = await consumerInfo(jsm, ref);
      outstanding += info.num_pending + info.num_ack_pending;
      delivered += info.delivered.stream_seq > 0 ? info.delivered.consumer_seq : 0;
      redelivered += info.num_redelivered;
    } catch (error) {
      if (!/consumer not found/i.test((error as Error).message)) throw error;
      exists = false;
    }
  }
  return { exists, processed: exists ? total - outstanding : 0, delivered, redelivered };
}

/**
 * A consumer's info, asked again (up to 3 times) when the request times out: progress is polled every 200 ms for
 * many minutes, and one late answer from a busy nats-server must not end the measurement.
 */
async function consumerInfo(jsm: JetStreamManager, ref: ConsumerRef) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await jsm.consumers.info(ref.stream, ref.durable);
    } catch (error) {
      if ((error as Error).name !== 'TimeoutError' || attempt >= 3) throw error;
    }
  }
}

/** Deletes durable consumers if they exist. */
export async function deleteConsumers(jsm: JetStreamManager, refs: readonly ConsumerRef[]): Promise<void> {
  for (const ref of refs) {
    try {
      await jsm.consumers.delete(ref.stream, ref.durable);
    } catch (error) {
      if (!/consumer not found/i.test((error as Error).message)) throw error;
    }
  }
}

/** Messages a stream holds now. */
export async function streamMessageCount(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

/**
 * Durable pull consumers `durable` on the namespace's PAIRING and LICENSING streams (explicit ack, from
 * the first message), as the benchmark's own consumers use them; returns their references.
 */
export async function createSourceDurables(
  jsm: JetStreamManager,
  names: BusNames,
  durable: string,
  maxAckPending: number,
): Promise<ConsumerRef[]> {
  const refs: ConsumerRef[] = [];
  for (const source of ['pairing', 'licensing'] as const) {
    const stream = names.stream(source);
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(60_000),
      max_ack_pending: maxAckPending,
      filter_subject: names.allSubjects(source),
    });
    refs.push({ stream, durable });
  }
  return refs;
}

/** The sync agent's durables on a namespace (it creates them itself, named `sync-agent`). */
export function syncAgentDurables(names: BusNames): ConsumerRef[] {
  return [
    { stream: names.stream('pairing'), durable: 'sync-agent' },
    { stream: names.stream('licensing'), durable: 'sync-agent' },
  ];
}
