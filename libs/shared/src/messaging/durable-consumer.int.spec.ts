import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { busNames, type BusNames, type EventEnvelope } from '../contracts/index.js';
import type { PostgresSettings } from '../config/service-config.js';
import { pgClientConfig } from '../database/postgres.js';
import {
  createTestSchema,
  deleteStreams,
  dropSchema,
  eventually,
  publishEnvelope,
  sampleEvent,
  testBusNamespace,
  testEnvelope,
} from '../testing/index.js';
import {
  BatchingConsumer,
  ensureDurableConsumer,
  type BatchHandler,
  type ConsumerObserver,
  type DurableConsumerSpec,
} from './durable-consumer.js';
import { connectNats } from './nats-connection.js';
import { ensureEventStream } from './streams.js';

let serialCounter = 0x300000000000;
function registeredEnvelope(): EventEnvelope {
  const serial = (serialCounter++).toString(16).toUpperCase().padStart(12, '0');
  return testEnvelope(sampleEvent('ProductRegistered', { serial }), { streamId: `product-${serial}` });
}

function recordingObserver() {
  const record = { applied: 0, rejected: [] as { reason: string; subject: string }[], failed: [] as Error[] };
  const observer: ConsumerObserver = {
    applied: (count) => (record.applied += count),
    rejected: (reason, subject) => record.rejected.push({ reason, subject }),
    failed: (error) => record.failed.push(error),
  };
  return { record, observer };
}

describe('BatchingConsumer on a durable JetStream consumer', () => {
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let settings: PostgresSettings;
  let pool: pg.Pool;
  const namespaces: BusNames[] = [];
  const consumers: BatchingConsumer[] = [];

  beforeAll(async () => {
    nc = await connectNats(['nats://127.0.0.1:4222'], 'durable-consumer-int');
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    settings = await createTestSchema('consumer');
    pool = new pg.Pool({ ...pgClientConfig(settings), max: 4 });
    await pool.query(`CREATE TABLE inbox (event_id uuid PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now())`);
    await pool.query(`CREATE TABLE effects (event_id uuid NOT NULL, serial text NOT NULL)`);
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    for (const names of namespaces) await deleteStreams(nc, names);
    await pool?.end();
    if (settings) await dropSchema(settings);
    await nc?.close();
  });

  /** A namespace of its own (so the consumer sees only this test's messages), its stream and a durable consumer. */
  async function setup(label: string, ackWaitMs?: number): Promise<{ names: BusNames; spec: DurableConsumerSpec }> {
    const names = busNames(testBusNamespace(`consumer-${label}`));
    namespaces.push(names);
    await ensureEventStream(jsm, names, 'pairing');
    const spec: DurableConsumerSpec = {
      stream: names.stream('pairing'),
      durable: `int-${label}`,
      ...(ackWaitMs ? { ackWaitMs } : {}),
    };
    await ensureDurableConsumer(jsm, spec);
    return { names, spec };
  }

  async function start(spec: DurableConsumerSpec, handler: BatchHandler, observer?: ConsumerObserver): Promise<BatchingConsumer> {
    const consumer = new BatchingConsumer(js, [spec], handler, observer);
    consumers.push(consumer);
    await consumer.start();
    return consumer;
  }

  /** Waits until the consumer has acknowledged (or terminated) every message of its stream. */
  async function allAcknowledged(spec: DurableConsumerSpec, options: { timeoutMs?: number } = {}) {
    return eventually(
      async () => {
        const [info, stream] = await Promise.all([jsm.consumers.info(spec.stream, spec.durable), jsm.streams.info(spec.stream)]);
        const state = `pending ${info.num_pending}, ack pending ${info.num_ack_pending}, redelivered ${info.num_redelivered}, ack floor ${info.ack_floor.stream_seq}/${stream.state.last_seq}`;
        if (info.num_pending !== 0 || info.num_ack_pending !== 0 || info.ack_floor.stream_seq !== stream.state.last_seq)
          throw new Error(state);
        return info;
      },
      { description: `every message of ${spec.stream} acknowledged`, ...options },
    );
  }

  async function inboxTransaction(events: readonly EventEnvelope[], failAfterApplying: boolean): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (const event of events) {
        const { rowCount } = await client.query('INSERT INTO inbox (event_id) VALUES ($1) ON CONFLICT DO NOTHING', [
          event.eventId,
        ]);
        if (rowCount === 1)
          await client.query('INSERT INTO effects (event_id, serial) VALUES ($1, $2)', [
            event.eventId,
            (event.data as { serial: string }).serial,
          ]);
      }
      if (failAfterApplying) throw new Error('transient failure after applying the batch');
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  describe('when valid events arrive', () => {
    it('hands them to the handler in order and acks each only after the handler resolved', async () => {
      const { names, spec } = await setup('ack');
      await ensureDurableConsumer(jsm, spec); // a second call updates the existing consumer in place
      const { record, observer } = recordingObserver();
      const received: EventEnvelope[] = [];
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      await start(
        spec,
        async (events) => {
          received.push(...events);
          await released;
        },
        observer,
      );
      const envelopes = [registeredEnvelope(), registeredEnvelope(), registeredEnvelope()];
      for (const envelope of envelopes) await publishEnvelope(js, names, envelope);

      await eventually(
        async () => {
          const info = await jsm.consumers.info(spec.stream, spec.durable);
          return received.length > 0 && info.num_ack_pending === 3 && info.ack_floor.stream_seq === 0;
        },
        { description: 'all three delivered and none acked while the handler runs' },
      );
      release();
      await allAcknowledged(spec);

      const firstDeliveries = received.filter((e, i) => received.findIndex((r) => r.eventId === e.eventId) === i);
      expect(firstDeliveries).toEqual(envelopes);
      expect(record.applied).toBeGreaterThanOrEqual(3);
      expect(record.rejected).toEqual([]);
    });
  });

  describe('when messages arrive while a batch is in its transaction', () => {
    /** A consumer whose first batch (one event) waits until released, with `count` more delivered behind it. */
    async function firstBatchHeld(names: BusNames, spec: DurableConsumerSpec, count: number) {
      const batches: EventEnvelope[][] = [];
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const consumer = await start(spec, async (events) => {
        batches.push([...events]);
        if (batches.length === 1) await released;
      });
      const first = registeredEnvelope();
      await publishEnvelope(js, names, first);
      await eventually(async () => batches.length === 1, { description: 'the first batch in its transaction' });
      const behind = Array.from({ length: count }, registeredEnvelope);
      for (const envelope of behind) await publishEnvelope(js, names, envelope);
      await eventually(async () => (await jsm.consumers.info(spec.stream, spec.durable)).num_ack_pending === count + 1, {
        description: 'all delivered while the first batch waits',
      });
      return { consumer, batches, first, behind, release };
    }

    it('decodes them meanwhile and applies them all as the next batch, in order', async () => {
      const { names, spec } = await setup('coalesce');
      const { batches, first, behind, release } = await firstBatchHeld(names, spec, 30);
      release();
      await allAcknowledged(spec);
      expect(batches.map((b) => b.map((e) => e.eventId))).toEqual([[first.eventId], behind.map((e) => e.eventId)]);
    });

    it('gives back what it decoded but did not apply when it stops: another consumer applies it', async () => {
      // A short ack_wait: a message the server hands to the closing subscription meanwhile is redelivered soon.
      const { names, spec } = await setup('stop', 2_000);
      const { consumer, batches, first, behind, release } = await firstBatchHeld(names, spec, 5);
      const stopped = consumer.stop();
      release();
      await stopped;
      expect(batches.flat().map((e) => e.eventId)).toEqual([first.eventId]);

      const later: string[] = [];
      await start(spec, async (events) => void later.push(...events.map((e) => e.eventId)));
      await allAcknowledged(spec, { timeoutMs: 15_000 });
      expect([...new Set(later)].sort()).toEqual(behind.map((e) => e.eventId).sort());
    });
  });

  describe('when a batch takes longer than ack_wait', () => {
    it('extends the deadline of the messages it holds: none is delivered twice', async () => {
      const { names, spec } = await setup('slow', 1_500);
      const seen: string[] = [];
      // The first batch takes three ack_waits; the messages queued behind it wait that long too.
      await start(spec, async (events) => {
        seen.push(...events.map((e) => e.eventId));
        if (seen.length === events.length) await new Promise((resolve) => setTimeout(resolve, 4_500));
      });
      const envelopes = [registeredEnvelope(), registeredEnvelope(), registeredEnvelope()];
      for (const envelope of envelopes) await publishEnvelope(js, names, envelope);

      const info = await allAcknowledged(spec, { timeoutMs: 15_000 });
      expect(info.num_redelivered).toBe(0);
      expect(seen.sort()).toEqual(envelopes.map((e) => e.eventId).sort());
    });
  });

  describe('when the handler fails or an event arrives twice', () => {
    it('redelivers a failed batch, and the inbox makes a duplicate publish change nothing', async () => {
      const { names, spec } = await setup('inbox');
      const { record, observer } = recordingObserver();
      const deliveries: string[] = [];
      let failures = 1;
      await start(
        spec,
        async (events) => {
          deliveries.push(...events.map((e) => e.eventId));
          await inboxTransaction(events, failures-- > 0);
        },
        observer,
      );
      const envelope = registeredEnvelope();
      const countOf = (id: string) => deliveries.filter((d) => d === id).length;
      const effectsOf = async (id: string) => (await pool.query('SELECT serial FROM effects WHERE event_id = $1', [id])).rows;

      await publishEnvelope(js, names, envelope);
      await eventually(() => countOf(envelope.eventId) === 2, { description: 'the failed event delivered again' });
      await allAcknowledged(spec);
      expect(record.failed.map((e) => e.message)).toEqual(['transient failure after applying the batch']);
      expect(await effectsOf(envelope.eventId)).toEqual([{ serial: (envelope.data as { serial: string }).serial }]);

      // JetStream drops a republish with the same Nats-Msg-Id; with another id it is delivered again.
      expect((await publishEnvelope(js, names, envelope)).duplicate).toBe(true);
      expect((await publishEnvelope(js, names, envelope, randomUUID())).duplicate).toBe(false);
      await eventually(() => countOf(envelope.eventId) === 3, { description: 'the duplicate delivered' });
      await allAcknowledged(spec);
      expect(await effectsOf(envelope.eventId)).toHaveLength(1);
      expect((await pool.query('SELECT count(*)::int AS n FROM inbox WHERE event_id = $1', [envelope.eventId])).rows).toEqual([
        { n: 1 },
      ]);
    });
  });

  describe('when messages are not valid events', () => {
    it('terminates each poison message and still applies the valid events behind it', async () => {
      const { names, spec } = await setup('poison');
      const { record, observer } = recordingObserver();
      const received: EventEnvelope[] = [];
      await start(
        spec,
        async (events) => {
          received.push(...events);
        },
        observer,
      );
      const template = registeredEnvelope();
      const subject = names.subjectOf(template);
      await js.publish(subject, '{"eventId": "not json');
      await js.publish(subject, JSON.stringify({ ...registeredEnvelope(), type: 'ProductExploded' }));
      await js.publish(subject, JSON.stringify({ ...registeredEnvelope(), schemaVersion: 2 }));
      await js.publish(subject, JSON.stringify(testEnvelope(sampleEvent('ProductRegistered', { serial: 'not-a-serial' }))));
      const valid = [registeredEnvelope(), registeredEnvelope()];
      for (const envelope of valid) await publishEnvelope(js, names, envelope);

      await eventually(() => received.length >= 2, { description: 'the valid events applied' });
      expect(received.slice(0, 2)).toEqual(valid);
      expect(record.rejected.slice(0, 4).map((r) => r.reason)).toEqual([
        'message body is not valid JSON',
        'unknown event type ProductExploded',
        'unsupported schema version 2 of ProductRegistered (supported: 1)',
        expect.stringMatching(/^ProductRegistered fails its schema: serial: /),
      ]);
      expect(record.rejected.slice(0, 4).map((r) => r.subject)).toEqual([subject, subject, subject, subject]);

      // Terminated messages are done: not pending an ack, never redelivered.
      const info = await allAcknowledged(spec, { timeoutMs: 4_000 });
      expect(info.num_redelivered).toBe(0);
      expect(record.rejected).toHaveLength(4);
    });
  });

  describe('when a batch takes longer than a second', () => {
    it('does not get its messages redelivered while the handler is still running', async () => {
      const { names, spec } = await setup('slow');
      const handled: string[] = [];
      const slow = registeredEnvelope();
      const marker = registeredEnvelope();
      let slowBatches = 0;
      await start(spec, async (events) => {
        handled.push(...events.map((e) => e.eventId));
        // Simulates a slow batch transaction (a large batch, a busy database): work, not a wait for a result.
        if (events.some((e) => e.eventId === slow.eventId) && slowBatches++ === 0)
          await new Promise((resolve) => setTimeout(resolve, 2_500));
      });

      await publishEnvelope(js, names, slow);
      await eventually(() => handled.includes(slow.eventId), { description: 'the slow batch started' });
      // Queued behind the slow batch: once it is handled, anything redelivered meanwhile has been handled too.
      await publishEnvelope(js, names, marker);
      await eventually(() => handled.includes(marker.eventId), { description: 'the marker handled' });
      await allAcknowledged(spec);

      expect(handled.filter((id) => id === slow.eventId)).toHaveLength(1);
    });
  });
});
