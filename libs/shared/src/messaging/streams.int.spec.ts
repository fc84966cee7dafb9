import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { busNames, type BusNames } from '../contracts/index.js';
import { deleteStreams, testBusNamespace } from '../testing/index.js';
import { connectNats } from './nats-connection.js';
import { DEFAULT_STREAM_LIMITS, ensureDeadLetterStream, ensureEventStream } from './streams.js';

describe('the streams’ byte limit', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let names: BusNames;

  beforeAll(async () => {
    nc = await connectNats(['nats://127.0.0.1:4222'], 'streams-int');
    jsm = await jetstreamManager(nc);
    names = busNames(testBusNamespace('stream-limits'));
  });

  afterAll(async () => {
    await deleteStreams(nc, names);
    await nc.close();
  });

  it('is set on every event stream and the dead-letter stream, discarding the oldest messages', async () => {
    await ensureEventStream(jsm, names, 'licensing');
    await ensureDeadLetterStream(jsm, names, { maxBytes: 2 * 1024 ** 2 });
    const licensing = (await jsm.streams.info(names.stream('licensing'))).config;
    const deadLetters = (await jsm.streams.info(names.deadLetterStream)).config;
    expect([licensing.max_bytes, licensing.discard]).toEqual([DEFAULT_STREAM_LIMITS.maxBytes, DiscardPolicy.Old]);
    expect([deadLetters.max_bytes, deadLetters.discard]).toEqual([2 * 1024 ** 2, DiscardPolicy.Old]);
  });

  it('is brought up to date on an existing stream', async () => {
    await ensureEventStream(jsm, names, 'sync-agent', { maxBytes: 1024 ** 2 });
    await ensureEventStream(jsm, names, 'sync-agent', { maxBytes: 3 * 1024 ** 2 });
    expect((await jsm.streams.info(names.stream('sync-agent'))).config.max_bytes).toBe(3 * 1024 ** 2);
  });

  describe('when publishers fill a stream past it', () => {
    it('keeps accepting, holds at most the limit, and a consumer that was behind continues at the first message left', async () => {
      const stream = names.stream('pairing');
      await ensureEventStream(jsm, names, 'pairing', { maxBytes: 16 * 1024 });
      // A durable consumer that has read nothing yet: the subscriber that fell behind.
      await jsm.consumers.add(stream, { durable_name: 'behind', ack_policy: AckPolicy.Explicit });
      const js = jetstream(nc);
      const payload = 'x'.repeat(1024);
      for (let i = 1; i <= 100; i++) {
        const ack = await js.publish(names.allSubjects('pairing').replace('>', 'test.filled'), `${i}:${payload}`);
        expect(ack.seq).toBe(i);
      }
      const { state } = await jsm.streams.info(stream);
      expect(state.bytes).toBeLessThanOrEqual(16 * 1024);
      expect(state.last_seq).toBe(100);
      expect(state.first_seq).toBeGreaterThan(80);
      const consumer = await js.consumers.get(stream, 'behind');
      const next = await consumer.next({ expires: 5_000 });
      expect(next?.seq).toBe(state.first_seq);
      expect(next?.string().split(':')[0]).toBe(String(state.first_seq));
      next?.ack();
    });
  });
});
