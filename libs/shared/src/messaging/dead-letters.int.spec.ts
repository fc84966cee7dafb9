import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { busNames, type BusNames, type EventEnvelope } from '../contracts/index.js';
import { CreateDeadLetters1764100000000 } from '../dead-letters/dead-letters.migration.js';
import { DeadLetterIndex, deadLetterIndexConsumers } from '../dead-letters/dead-letter-index.js';
import {
  createTestEventStore,
  deleteStreams,
  eventually,
  publishEnvelope,
  sampleEvent,
  streamMessages,
  testBusNamespace,
  testEnvelope,
  type TestEventStore,
} from '../testing/index.js';
import { decodeEvent } from './decode-event.js';
import { DeadLetterSink, decodeDeadLetter, type DeadLetter } from './dead-letters.js';
import {
  BatchingConsumer,
  ensureDurableConsumer,
  type BatchHandler,
  type DurableConsumerSpec,
  type RefusedEvent,
} from './durable-consumer.js';
import { connectNats } from './nats-connection.js';
import { ensureDeadLetterStream, ensureEventStream } from './streams.js';

let serialCounter = 0x500000000000;
function registeredEnvelope(): EventEnvelope {
  const serial = (serialCounter++).toString(16).toUpperCase().padStart(12, '0');
  return testEnvelope(sampleEvent('ProductRegistered', { serial }), { streamId: `product-${serial}` });
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('dead letters of a BatchingConsumer', () => {
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let db: TestEventStore;
  let index: DeadLetterIndex;
  const namespaces: BusNames[] = [];
  const consumers: BatchingConsumer<unknown>[] = [];
  const deadLettered: { consumer: string; reason: string }[] = [];

  beforeAll(async () => {
    nc = await connectNats(['nats://127.0.0.1:4222'], 'dead-letters-int');
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    db = await createTestEventStore('dead_letters', [CreateDeadLetters1764100000000]);
    index = new DeadLetterIndex(db.dataSource);
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    for (const names of namespaces) await deleteStreams(nc, names);
    await db?.dispose();
    await nc?.close();
  });

  /** A namespace of its own with the pairing stream, the dead-letter stream, a consumer and its dead-letter index. */
  async function start(label: string, handler: BatchHandler, options: { maxDeliver?: number } = {}) {
    const names = busNames(testBusNamespace(`dlq-${label}`));
    namespaces.push(names);
    await ensureEventStream(jsm, names, 'pairing');
    await ensureDeadLetterStream(jsm, names);
    const spec: DurableConsumerSpec = { stream: names.stream('pairing'), durable: `int-${label}`, ...options };
    const indexSpecs = deadLetterIndexConsumers(names, [spec]);
    for (const s of [spec, ...indexSpecs]) await ensureDurableConsumer(jsm, s);
    const consumer = new BatchingConsumer(
      js,
      [spec],
      handler,
      {
        applied: () => undefined,
        rejected: () => undefined,
        failed: () => undefined,
        deadLettered: (c, reason) => deadLettered.push({ consumer: c, reason }),
      },
      { decode: decodeEvent, deadLetters: new DeadLetterSink(js, names) },
    );
    const indexer = new BatchingConsumer<DeadLetter>(js, indexSpecs, index.record, undefined, { decode: decodeDeadLetter });
    consumers.push(consumer as BatchingConsumer<unknown>, indexer as BatchingConsumer<unknown>);
    await consumer.start();
    await indexer.start();
    return { names, spec };
  }

  /** Waits until the consumer has acknowledged (or terminated) every message of its stream, none pending. */
  async function allSettled(spec: DurableConsumerSpec) {
    return eventually(
      async () => {
        const [info, stream] = await Promise.all([jsm.consumers.info(spec.stream, spec.durable), jsm.streams.info(spec.stream)]);
        if (info.num_pending !== 0 || info.num_ack_pending !== 0 || info.ack_floor.stream_seq !== stream.state.last_seq)
          throw new Error(`pending ${info.num_pending}, ack pending ${info.num_ack_pending}`);
        return info;
      },
      { description: `every message of ${spec.stream} settled`, timeoutMs: 15_000 },
    );
  }

  describe('when poison messages arrive between valid events', () => {
    it('copies each into the dead-letter stream with its reason and original, and applies the valid events', async () => {
      const received: EventEnvelope[] = [];
      const { names, spec } = await start('poison', async (events) => {
        received.push(...events);
      });
      const subject = names.subjectOf(registeredEnvelope());
      const traced = natsHeaders();
      traced.set('X-Trace', 'abc');
      const poison: [string, string][] = [
        ['MALFORMED_JSON', '{"eventId": "not json'],
        ['NOT_AN_ENVELOPE', JSON.stringify({ hello: 'world' })],
        ['UNKNOWN_EVENT_TYPE', JSON.stringify({ ...registeredEnvelope(), type: 'ProductExploded' })],
        ['UNSUPPORTED_SCHEMA_VERSION', JSON.stringify({ ...registeredEnvelope(), schemaVersion: 2 })],
        ['SCHEMA_VIOLATION', JSON.stringify(testEnvelope(sampleEvent('ProductRegistered', { serial: 'not-a-serial' })))],
      ];
      const valid: EventEnvelope[] = [];
      const originalSeqs: number[] = [];
      for (const [, body] of poison) {
        originalSeqs.push((await js.publish(subject, body, { headers: traced })).seq);
        const envelope = registeredEnvelope();
        valid.push(envelope);
        await publishEnvelope(js, names, envelope);
      }

      await eventually(() => received.length >= valid.length, { description: 'the valid events applied' });
      expect(received.slice(0, valid.length)).toEqual(valid);
      await allSettled(spec);

      const letters = await eventually(
        async () => {
          const messages = await streamMessages(jsm, names.deadLetterStream);
          return messages.length >= poison.length && messages;
        },
        { description: 'five dead letters' },
      );
      expect(letters).toHaveLength(poison.length);
      const decoded = letters.map((m) => {
        const d = decodeDeadLetter({ subject: m.subject, data: m.data, headers: m.header });
        if (!d.ok) throw new Error(d.detail);
        return d.value;
      });
      expect(decoded.map((d) => d.reason)).toEqual(poison.map(([reason]) => reason));
      expect(decoded.map((d) => text(d.body))).toEqual(poison.map(([, body]) => body));
      for (const [i, letter] of decoded.entries()) {
        expect(letters[i]!.subject).toBe(names.deadLetterSubject(spec.durable));
        expect(letter).toMatchObject({
          consumer: spec.durable,
          stream: spec.stream,
          streamSequence: originalSeqs[i],
          subject,
          deliveries: 1,
          headers: { 'X-Trace': ['abc'] },
        });
        expect(letter.detail.length).toBeGreaterThan(0);
        expect(Date.parse(letter.deadLetteredAt)).not.toBeNaN();
      }
      expect(deadLettered.filter((d) => d.consumer === spec.durable).map((d) => d.reason)).toEqual(
        poison.map(([reason]) => reason),
      );

      // Listed by the index, newest first, filterable by reason and consumer, paginated.
      const listed = await eventually(
        async () => {
          const page = await index.list({ consumer: spec.durable, limit: 10 });
          return page.items.length === poison.length && page;
        },
        { description: 'the five letters indexed' },
      );
      expect(listed.items.map((l) => l.reason)).toEqual(poison.map(([reason]) => reason).reverse());
      expect((await index.list({ consumer: spec.durable, reason: 'SCHEMA_VIOLATION', limit: 10 })).items).toHaveLength(1);
      const first = await index.list({ consumer: spec.durable, limit: 2 });
      const second = await index.list({ consumer: spec.durable, limit: 2, before: first.nextBefore! });
      const last = await index.list({ consumer: spec.durable, limit: 2, before: second.nextBefore! });
      expect([...first.items, ...second.items, ...last.items].map((l) => l.id)).toEqual(listed.items.map((l) => l.id));
      expect(last.nextBefore).toBeNull();
    });
  });

  describe('when an event fails on every delivery', () => {
    it('dead-letters it on its last allowed delivery with the last error, and applies the others', async () => {
      const doomed = registeredEnvelope();
      const applied: string[] = [];
      let attempts = 0;
      const { names, spec } = await start(
        'max',
        async (events) => {
          if (events.some((e) => e.eventId === doomed.eventId)) {
            attempts++;
            throw new Error(`handler bug #${attempts}`);
          }
          applied.push(...events.map((e) => e.eventId));
        },
        { maxDeliver: 2 },
      );
      const before = registeredEnvelope();
      const after = registeredEnvelope();
      await publishEnvelope(js, names, before);
      await publishEnvelope(js, names, doomed);
      await publishEnvelope(js, names, after);

      const letter = await eventually(async () => (await index.list({ consumer: spec.durable, limit: 10 })).items[0], {
        description: 'the failing event dead-lettered and indexed',
        timeoutMs: 15_000,
      });
      // A batch that fails is halved down to the failing event, so it may be tried more than once per delivery
      // (how the three arrive in batches decides); the letter carries the error of the very last attempt.
      const info = await allSettled(spec);
      expect(letter).toMatchObject({
        reason: 'MAX_DELIVERIES',
        deliveries: 2,
        detail: `handler bug #${attempts}`,
        stream: spec.stream,
      });
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(JSON.parse(letter.body)).toEqual(doomed);
      expect(applied).toEqual(expect.arrayContaining([before.eventId, after.eventId]));
      expect(info.num_ack_pending).toBe(0);
    });
  });

  describe('when the handler refuses events of a committed batch (replays)', () => {
    it('acknowledges the others and dead-letters each refused one with the reason and detail the handler gave', async () => {
      // A handler with an inbox: an event id seen before from another stream position is a replay.
      const appliedFrom = new Map<string, number>();
      const handler: BatchHandler = async (events, positions = []) => {
        const refused: RefusedEvent[] = [];
        for (const [index, event] of events.entries()) {
          const seq = positions[index]?.seq ?? 0;
          const first = appliedFrom.get(event.eventId);
          if (first === undefined) appliedFrom.set(event.eventId, seq);
          else if (first !== seq) refused.push({ index, reason: 'REPLAYED', detail: `first applied at ${first}` });
        }
        return refused;
      };
      const { names, spec } = await start('refused', handler);
      const original = registeredEnvelope();
      const other = registeredEnvelope();
      const originalSeq = (await publishEnvelope(js, names, original)).seq;
      // The same bytes again under a new message id: JetStream stores it, as it would a republish.
      const copySeq = (await js.publish(names.subjectOf(original), JSON.stringify(original))).seq;
      await publishEnvelope(js, names, other);

      const letter = await eventually(async () => (await index.list({ consumer: spec.durable, limit: 10 })).items[0], {
        description: 'the copy dead-lettered and indexed',
      });
      expect(letter).toMatchObject({
        reason: 'REPLAYED',
        detail: `first applied at ${originalSeq}`,
        stream: spec.stream,
        streamSequence: copySeq,
      });
      expect(JSON.parse(letter.body)).toEqual(original);
      expect([...appliedFrom.keys()]).toEqual([original.eventId, other.eventId]);
      await allSettled(spec);
      expect(deadLettered.filter((d) => d.consumer === spec.durable)).toEqual([{ consumer: spec.durable, reason: 'REPLAYED' }]);

      // Replaying it through the API is refused again, with the handler's reason: it stays listed.
      expect(await index.replay(letter.id, decodeEvent, handler)).toMatchObject({
        ok: false,
        kind: 'still-invalid',
        reason: 'REPLAYED',
      });
    });
  });

  describe('when the same message is dead-lettered twice (a crash between the PubAck and the termination)', () => {
    it('keeps one copy in the stream and one row in the index', async () => {
      const names = busNames(testBusNamespace('dlq-twice'));
      namespaces.push(names);
      await ensureDeadLetterStream(jsm, names);
      const sink = new DeadLetterSink(js, names);
      const msg = {
        info: { consumer: 'twice', stream: 'SOME_STREAM', deliveryCount: 1 },
        seq: 42,
        subject: 'pairing.v1.product-registered.X',
        headers: undefined,
        data: new TextEncoder().encode('{oops'),
      } as unknown as JsMsg;
      await sink.deadLetter(msg, 'MALFORMED_JSON', 'message body is not valid JSON');
      await sink.deadLetter(msg, 'MALFORMED_JSON', 'message body is not valid JSON');
      const stored = await streamMessages(jsm, names.deadLetterStream);
      expect(stored).toHaveLength(1);

      // Beyond the duplicate window a second copy would be stored: the index still lists the original once.
      const decoded = decodeDeadLetter({ subject: stored[0]!.subject, data: stored[0]!.data, headers: stored[0]!.header });
      if (!decoded.ok) throw new Error(decoded.detail);
      await index.record([decoded.value]);
      await index.record([{ ...decoded.value, deliveries: 2 }]);
      const listed = await index.list({ consumer: 'twice', limit: 10 });
      expect(listed.items.map((l) => [l.stream, l.streamSequence, l.deliveries])).toEqual([['SOME_STREAM', 42, 1]]);
    });
  });

  describe('when a dead letter is replayed', () => {
    it('applies it with the same handler once the cause is fixed, refuses it while it still fails, and never twice', async () => {
      const fragile = registeredEnvelope();
      let fixed = false;
      const applied: string[] = [];
      const handler: BatchHandler = async (events) => {
        if (!fixed && events.some((e) => e.eventId === fragile.eventId)) throw new Error('bug: cannot handle this yet');
        applied.push(...events.map((e) => e.eventId));
      };
      const { names, spec } = await start('replay', handler, { maxDeliver: 1 });
      await publishEnvelope(js, names, fragile);
      await js.publish(names.subjectOf(fragile), 'still not json');

      const page = await eventually(
        async () => {
          const p = await index.list({ consumer: spec.durable, limit: 10 });
          return p.items.length === 2 && p;
        },
        { description: 'both dead letters indexed' },
      );
      const poisonId = page.items.find((l) => l.reason === 'MALFORMED_JSON')!.id;
      const fragileId = page.items.find((l) => l.reason === 'MAX_DELIVERIES')!.id;

      expect(await index.replay(poisonId, decodeEvent, handler)).toMatchObject({
        ok: false,
        kind: 'still-invalid',
        reason: 'MALFORMED_JSON',
      });
      const stillFailing = await index.replay(fragileId, decodeEvent, handler);
      expect(stillFailing).toMatchObject({ ok: false, kind: 'failed' });
      expect((await index.list({ consumer: spec.durable, limit: 10 })).items.map((l) => l.id).sort()).toEqual(
        [poisonId, fragileId].sort(),
      );

      fixed = true;
      const replayed = await index.replay(fragileId, decodeEvent, handler);
      expect(replayed).toMatchObject({ ok: true, letter: { id: fragileId, reason: 'MAX_DELIVERIES' } });
      expect(applied).toEqual([fragile.eventId]);
      expect((await index.list({ consumer: spec.durable, limit: 10 })).items.map((l) => l.id)).toEqual([poisonId]);
      expect(await index.replay(fragileId, decodeEvent, handler)).toMatchObject({ ok: false, kind: 'already-replayed' });
      expect(await index.replay(999_999_999, decodeEvent, handler)).toEqual({ ok: false, kind: 'not-found' });
      expect(applied).toEqual([fragile.eventId]);
    });
  });
});
