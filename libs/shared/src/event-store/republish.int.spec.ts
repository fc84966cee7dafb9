import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { busNames, type BusNames, type EventEnvelope, type EventMetadata } from '../contracts/index.js';
import { pgClientConfig } from '../database/postgres.js';
import { generateKeyPairSync } from 'node:crypto';
import { verifiedEventDecoder, type EventVerificationKey } from '../event-signing/event-signature.js';
import { BatchingConsumer, ensureDurableConsumer, type DurableConsumerSpec } from '../messaging/durable-consumer.js';
import { connectNats } from '../messaging/nats-connection.js';
import { PubAckPublisher } from '../messaging/pub-ack-publisher.js';
import { ensureEventStream } from '../messaging/streams.js';
import {
  createTestEventStore,
  deleteStreams,
  eventually,
  sampleEvent,
  testBusNamespace,
  type TestEventStore,
} from '../testing/index.js';
import { OutboxRelay } from './outbox-relay.js';
import { republishEvents, type RepublishProgress } from './republish.js';

const context = {
  occurredAt: new Date('2025-04-01T12:00:00.000Z'),
  metadata: { correlationId: 'corr-republish', causationId: null } satisfies EventMetadata,
};

// pairing's event-signing key; the consumer below accepts only events it signed, as the sync agent does.
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = { kid: 'pairing/republish-test', privateKey };
const keys = new Map<string, EventVerificationKey>([[signer.kid, { kid: signer.kid, source: 'pairing', publicKey }]]);

describe('republishEvents (event store → JetStream again)', () => {
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let fixture: TestEventStore;
  let pool: pg.Pool;
  let names: BusNames;
  let spec: DurableConsumerSpec;
  let consumer: BatchingConsumer | undefined;
  /** Every delivery the consumer saw (event ids), including duplicates. */
  const deliveries: string[] = [];
  /** What the verifying consumer refused. */
  let refusedByConsumer: string[] = [];

  beforeAll(async () => {
    nc = await connectNats(['nats://127.0.0.1:4222'], 'republish-int');
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    fixture = await createTestEventStore('republish');
    pool = new pg.Pool({ ...pgClientConfig(fixture.settings), max: 4 });
    // The consumer's state: an inbox (each event counts once) and the newest firmware per product.
    await pool.query('CREATE TABLE inbox (event_id uuid PRIMARY KEY)');
    await pool.query('CREATE TABLE firmware (serial text PRIMARY KEY, firmware text NOT NULL, version int NOT NULL)');
    names = busNames(testBusNamespace('republish'));
    spec = { stream: names.stream('pairing'), durable: 'republish-int' };
  });

  afterAll(async () => {
    await consumer?.stop();
    await deleteStreams(nc, names).catch(() => undefined);
    await pool?.end();
    await fixture?.dispose();
    await nc?.close();
  });

  async function applyBatch(events: readonly EventEnvelope[]): Promise<void> {
    deliveries.push(...events.map((e) => e.eventId));
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (const event of events) {
        const fresh = await client.query('INSERT INTO inbox VALUES ($1) ON CONFLICT DO NOTHING', [event.eventId]);
        if (fresh.rowCount !== 1) continue;
        const data = event.data as { serial: string; firmwareVersion: string };
        await client.query(
          `INSERT INTO firmware VALUES ($1, $2, $3)
           ON CONFLICT (serial) DO UPDATE SET firmware = EXCLUDED.firmware, version = EXCLUDED.version
           WHERE firmware.version < EXCLUDED.version`,
          [data.serial, data.firmwareVersion, event.streamVersion],
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  /** (Re)creates the stream and the durable consumer, and consumes with a fresh subscription. */
  async function startConsuming(): Promise<void> {
    await ensureEventStream(jsm, names, 'pairing');
    await ensureDurableConsumer(jsm, spec);
    // As strict as production: unsigned or wrongly signed events are refused (dead-lettered), never applied.
    const refused: string[] = [];
    consumer = new BatchingConsumer(
      js,
      [spec],
      applyBatch,
      { applied: () => undefined, rejected: (detail) => refused.push(detail), failed: () => undefined },
      { decode: verifiedEventDecoder(keys, names) },
    );
    refusedByConsumer = refused;
    await consumer.start();
  }

  async function consumerState() {
    const [inbox, firmware] = await Promise.all([
      pool.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox'),
      pool.query('SELECT serial, firmware, version FROM firmware ORDER BY serial'),
    ]);
    return { events: inbox.rows[0]!.n, firmware: firmware.rows };
  }

  async function streamHolds(count: number): Promise<void> {
    await eventually(async () => (await jsm.streams.info(spec.stream)).state.messages === count, {
      description: `the stream to hold ${count} messages`,
    });
  }

  async function consumerSettled(): Promise<void> {
    await eventually(
      async () => {
        const [info, stream] = await Promise.all([jsm.consumers.info(spec.stream, spec.durable), jsm.streams.info(spec.stream)]);
        return info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq === stream.state.last_seq;
      },
      { description: 'the consumer to acknowledge everything' },
    );
  }

  it('restores what JetStream lost, and a second run changes nothing', async () => {
    // 10 products, each registered and upgraded twice: 30 events, published by the relay and applied.
    const { store } = fixture;
    for (let i = 0; i < 10; i++) {
      const serial = (0x600000000000 + i).toString(16).toUpperCase();
      await store.transaction((tx) =>
        store.append(
          tx,
          `product-${serial}`,
          0,
          [
            sampleEvent('ProductRegistered', { serial, firmwareVersion: '6.0.0' }),
            sampleEvent('ProductFirmwareChanged', { serial, previousFirmwareVersion: '6.0.0', firmwareVersion: '7.0.0' }),
            sampleEvent('ProductFirmwareChanged', { serial, previousFirmwareVersion: '7.0.0', firmwareVersion: '7.1.0' }),
          ],
          context,
        ),
      );
    }
    await startConsuming();
    const relay = new OutboxRelay({
      postgres: fixture.settings,
      publisher: new PubAckPublisher(nc),
      names,
      signer,
      pollIntervalMs: 100,
    });
    relay.start();
    await streamHolds(30);
    await relay.stop();
    await consumerSettled();
    const before = await consumerState();
    expect(before.events).toBe(30);
    expect(before.firmware).toHaveLength(10);
    expect(before.firmware.every((f: { firmware: string }) => f.firmware === '7.1.0')).toBe(true);

    // JetStream loses the stream (storage lost, re-created empty): the services re-create it and its consumer.
    await consumer!.stop();
    await jsm.streams.delete(spec.stream);
    await startConsuming();
    expect((await jsm.streams.info(spec.stream)).state.messages).toBe(0);

    // Republish everything from position 1, with progress.
    const progress: RepublishProgress[] = [];
    const first = await republishEvents({
      db: pool,
      js,
      names,
      signer,
      from: 1n,
      batchSize: 7,
      onProgress: (p) => progress.push(p),
    });
    expect(first).toMatchObject({ done: 30, total: 30, stored: 30, duplicates: 0 });
    expect(progress.map((p) => p.done)).toEqual([7, 14, 21, 28, 30]);
    await streamHolds(30);
    await consumerSettled();
    expect(deliveries.length).toBeGreaterThanOrEqual(60); // every event delivered twice in all...
    expect(await consumerState()).toEqual(before); // ...and applied once.
    expect(refusedByConsumer).toEqual([]); // every copy signed like its original

    // Again, and a sub-range: JetStream drops every copy by its Nats-Msg-Id; nothing changes.
    expect(await republishEvents({ db: pool, js, names, signer, from: 1n })).toMatchObject({
      total: 30,
      stored: 0,
      duplicates: 30,
    });
    expect(await republishEvents({ db: pool, js, names, signer, from: 5n, to: 9n })).toMatchObject({ total: 5, duplicates: 5 });
    await consumerSettled();
    expect((await jsm.streams.info(spec.stream)).state.messages).toBe(30);
    expect(await consumerState()).toEqual(before);
  });
});
