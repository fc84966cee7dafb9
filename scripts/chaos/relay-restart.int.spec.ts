/**
 * The outbox relay across a restart of the whole JetStream cluster: an event committed meanwhile must be on the stream
 * within seconds of the stream answering again. After a reconnect the relay audits its stream, then publishes; while
 * the cluster still elects its leaders (4–7 s here) neither is answered, and each failed attempt is followed by a
 * pause. Here it published 1.2–1.8 s after the stream answered; with the connection's 5 s timeout for the audit and
 * the PubAcks and pauses growing to 5 s, 0.3–4.5 s, and up to 10 s when the election takes longer.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  OutboxRelay,
  PubAckPublisher,
  RELAY_JETSTREAM_SILENCE_MS,
  RELAY_MAX_BACKOFF_MS,
  busNames,
  publishedStream,
} from '#shared';
import { createTestEventStore, eventually, sampleEvent, testBusNamespace, type TestEventStore } from '#shared/testing';
import { startScratchBus, type ScratchBus } from './nats-bus.js';

const context = { occurredAt: new Date('2026-01-01T00:00:00.000Z'), metadata: { correlationId: null, causationId: null } };

describe('the outbox relay when the whole cluster restarts', () => {
  let scratch: ScratchBus | undefined;
  let fixture: TestEventStore | undefined;
  let relay: OutboxRelay | undefined;

  afterEach(async () => {
    await relay?.stop();
    await fixture?.dispose();
    await scratch?.dispose();
  });

  it('publishes what is committed during the restart within seconds of its stream answering again', async () => {
    scratch = await startScratchBus('relay-restart', 'cluster');
    const { bus, nc } = scratch;
    const names = busNames(testBusNamespace('relay-restart'));
    const stream = names.stream('pairing');
    await bus.addStream(await jetstreamManager(nc), stream, [names.allSubjects('pairing')]);
    fixture = await createTestEventStore('relay_restart');
    const { store } = fixture;
    const started = new OutboxRelay({
      postgres: fixture.settings,
      publisher: new PubAckPublisher(nc),
      names,
      stream: publishedStream(nc, stream, RELAY_JETSTREAM_SILENCE_MS),
    });
    relay = started;
    // As the services do: a reconnect makes the relay audit its stream before it publishes on.
    void (async () => {
      for await (const status of nc.status()) if (status.type === 'reconnect') started.auditSoon();
    })();
    relay.start();
    // The test's own questions give up quickly, so that none of them is still waiting when the stream answers.
    const jsm = await jetstreamManager(nc, { timeout: 200, checkAPI: false });
    const commit = (serial: string) =>
      store.transaction((tx) =>
        store.append(tx, `product-${serial}`, 0, [sampleEvent('ProductRegistered', { serial })], context),
      );
    /** When the stream stored the event of `serial` (JetStream's own timestamp); throws or null while it has not. */
    const storedAt = async (serial: string): Promise<number | null> => {
      const subject = names.subjectOf(sampleEvent('ProductRegistered', { serial }));
      const message = await jsm.streams.getMessage(stream, { last_by_subj: subject });
      return message ? message.time.getTime() : null;
    };

    await commit('0040103A0001');
    await eventually(() => storedAt('0040103A0001'), { description: 'the first event published' });

    await bus.stopAll('SIGTERM');
    await bus.startAll();
    await commit('0040103A0002');
    // The cluster elects its leaders first (here 4–7 s after it started): from then on, it is up to the relay.
    const answeredAt = await eventually(async () => (await jsm.streams.info(stream)) && Date.now(), {
      timeoutMs: 60_000,
      description: 'the stream to answer again',
    });
    const stored = await eventually(() => storedAt('0040103A0002'), {
      timeoutMs: 60_000,
      description: 'the event committed during the restart to be published',
    });
    // One attempt in flight when the stream answered, the longest pause after it, and the attempt that publishes.
    expect(stored - answeredAt).toBeLessThanOrEqual(RELAY_MAX_BACKOFF_MS + 3 * RELAY_JETSTREAM_SILENCE_MS);
    expect(await storedAt('0040103A0001')).not.toBeNull();
  }, 120_000);
});
