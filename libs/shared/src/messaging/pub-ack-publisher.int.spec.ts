import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { busNames, type BusNames } from '../contracts/index.js';
import { deleteStreams, streamMessages, testBusNamespace } from '../testing/index.js';
import { connectNats } from './nats-connection.js';
import { PubAckPublisher } from './pub-ack-publisher.js';
import { ensureEventStream } from './streams.js';

describe('PubAckPublisher', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let names: BusNames;
  let publisher: PubAckPublisher;

  beforeAll(async () => {
    nc = await connectNats(['nats://127.0.0.1:4222'], 'pub-ack-publisher-int');
    jsm = await jetstreamManager(nc);
    names = busNames(testBusNamespace('pub-ack'));
    await ensureEventStream(jsm, names, 'pairing');
    publisher = new PubAckPublisher(nc);
  });

  afterAll(async () => {
    publisher.close();
    await deleteStreams(nc, names);
    await nc.close();
  });

  /** A subject the pairing stream takes. */
  const subject = (n: number) => names.allSubjects('pairing').replace('>', `test.${n % 3}`);

  describe('when every message reaches its stream', () => {
    it('resolves once all are stored, in the order published, with their msg ids as headers', async () => {
      const messages = Array.from({ length: 300 }, (_, i) => ({ subject: subject(i), data: `{"n":${i}}`, msgId: `id-${i}` }));
      await publisher.publishAll(messages);
      const stored = await streamMessages(jsm, names.stream('pairing'));
      expect(stored.map((m) => m.string())).toEqual(messages.map((m) => m.data));
      expect(stored.map((m) => m.header.get('Nats-Msg-Id'))).toEqual(messages.map((m) => m.msgId));
    });
  });

  describe('when a msg id was published before', () => {
    it('resolves (the PubAck says duplicate) and the stream keeps one copy', async () => {
      const before = (await jsm.streams.info(names.stream('pairing'))).state.messages;
      await publisher.publishAll([{ subject: subject(0), data: '{"again":true}', msgId: 'id-0' }]);
      expect((await jsm.streams.info(names.stream('pairing'))).state.messages).toBe(before);
    });
  });

  describe('when what takes the subject does not answer', () => {
    it('gives up after the silence limit, not the whole timeout', async () => {
      const silent = nc.subscribe(`${names.namespace}.silent.>`, { callback: () => undefined });
      try {
        await expect(
          publisher.publishAll([{ subject: `${names.namespace}.silent.x`, data: '{}', msgId: 'unanswered' }], {
            timeoutMs: 60_000,
            silenceMs: 300,
          }),
        ).rejects.toThrow('1 of 1 PubAcks missing after 300 ms without one');
      } finally {
        silent.unsubscribe();
      }
    });

    it('waits on while PubAcks keep coming, each within the silence limit', async () => {
      // A stand-in stream that stores each message 150 ms after the one before: 750 ms for five, past a 400 ms limit.
      let received = 0;
      const slow = nc.subscribe(`${names.namespace}.slow.>`, {
        callback: (_error, msg) => {
          const seq = ++received;
          setTimeout(() => msg.respond(JSON.stringify({ stream: 'SLOW', seq })), 150 * seq);
        },
      });
      try {
        const messages = Array.from({ length: 5 }, (_, i) => ({
          subject: `${names.namespace}.slow.x`,
          data: '{}',
          msgId: `s${i}`,
        }));
        const acks = await publisher.publishAll(messages, { timeoutMs: 60_000, silenceMs: 400 });
        expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
      } finally {
        slow.unsubscribe();
      }
    });
  });

  describe('when no stream takes the subject', () => {
    it('rejects the batch instead of counting it as stored', async () => {
      await expect(
        publisher.publishAll([{ subject: `${names.namespace}.nowhere.x`, data: '{}', msgId: 'lost' }], { timeoutMs: 2_000 }),
      ).rejects.toThrow(/no JetStream stream answered|PubAcks missing/);
    });
  });
});
