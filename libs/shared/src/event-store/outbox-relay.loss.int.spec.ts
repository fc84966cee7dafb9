/**
 * The relay notices when its stream holds less than it published, and publishes the rest again, signed: a purged
 * stream, a re-created one, and the tail a nats-server loses in a power loss (it acknowledges before its disk has
 * the messages; here the store directory is put back to an earlier copy while the server is down), also when other
 * producers' messages have taken the lost sequences, so that the sequences alone look right.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { busNames, type BusNames, type EventMetadata, type PublishedEvent } from '../contracts/index.js';
import { EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER, verifyEventMessage } from '../event-signing/event-signature.js';
import { connectNats } from '../messaging/nats-connection.js';
import { PubAckPublisher } from '../messaging/pub-ack-publisher.js';
import { publishedStream } from '../messaging/published-stream.js';
import { ensureEventStream } from '../messaging/streams.js';
import {
  createTestEventStore,
  deleteStreams,
  eventually,
  publishCopy,
  sampleEvent,
  startPrivateNatsServer,
  streamMessages,
  testBusNamespace,
  type PrivateNatsServer,
  type TestEventStore,
} from '../testing/index.js';
import { OutboxRelay, RELAY_JETSTREAM_SILENCE_MS, type OutboxRelayOptions } from './outbox-relay.js';

const context = {
  occurredAt: new Date('2025-03-01T12:00:00.000Z'),
  metadata: { correlationId: 'corr-relay-loss', causationId: null } satisfies EventMetadata,
};

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = { kid: 'pairing/loss-test', privateKey };
const verification = new Map([[signer.kid, { kid: signer.kid, source: 'pairing' as const, publicKey }]]);

let serialCounter = 0x300000000000;
function registered(): PublishedEvent {
  return sampleEvent('ProductRegistered', { serial: (serialCounter++).toString(16).toUpperCase().padStart(12, '0') });
}

describe('OutboxRelay when JetStream loses what it acknowledged', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const fixtures: TestEventStore[] = [];
  const buses: { nc: NatsConnection; names: BusNames }[] = [];
  const relays: OutboxRelay[] = [];
  const connections: NatsConnection[] = [];
  const privateNats: PrivateNatsServer[] = [];
  const copies: string[] = [];

  beforeAll(async () => {
    nc = await connectNats(['nats://127.0.0.1:4222'], 'outbox-relay-loss-int');
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    for (const bus of buses) await deleteStreams(bus.nc, bus.names).catch(() => undefined);
    await Promise.all(fixtures.map((f) => f.dispose()));
    await Promise.all(connections.map((c) => c.close()));
    await Promise.all(privateNats.map((server) => server.dispose()));
    for (const copy of copies) rmSync(copy, { recursive: true, force: true });
    await nc?.close();
  });

  /** A fresh store and namespace, a relay that signs and audits its stream, and what it reports. */
  async function setup(label: string, bus: { nc: NatsConnection; jsm: JetStreamManager }, auditIntervalMs: number) {
    const fixture = await createTestEventStore(`relay_loss_${label}`);
    fixtures.push(fixture);
    const names = busNames(testBusNamespace(`relay-loss-${label}`));
    buses.push({ nc: bus.nc, names });
    await ensureEventStream(bus.jsm, names, 'pairing');
    const stream = names.stream('pairing');
    const report = { losses: [] as string[], republished: 0 };
    const relayOptions: OutboxRelayOptions = {
      postgres: fixture.settings,
      publisher: new PubAckPublisher(bus.nc),
      names,
      signer,
      stream: publishedStream(bus.nc, stream, RELAY_JETSTREAM_SILENCE_MS),
      auditIntervalMs,
      pollIntervalMs: 100,
      observer: {
        published: () => undefined,
        failed: () => undefined,
        lossDetected: (detail) => report.losses.push(detail),
        republished: (n) => (report.republished += n),
      },
    };
    /** A relay as a service starts it: a new instance reads its checkpoint from the table. */
    const startRelay = () => {
      const relay = new OutboxRelay(relayOptions);
      relays.push(relay);
      relay.start();
      return relay;
    };
    const relay = startRelay();
    /** Commits `n` events, one transaction each; returns their ids. */
    const commit = async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const event = registered();
        const streamId = `product-${(event.data as { serial: string }).serial}`;
        const [stored] = await fixture.store.transaction((tx) => fixture.store.append(tx, streamId, 0, [event], context));
        ids.push(stored!.eventId);
      }
      return ids;
    };
    /** The distinct event ids the stream holds, each message checked as a strict consumer checks it. */
    const held = async (manager: JetStreamManager = bus.jsm) => {
      const ids = new Set<string>();
      for (const m of await streamMessages(manager, stream)) {
        const verdict = verifyEventMessage(
          {
            subject: m.subject,
            body: m.data,
            keyId: m.header.get(EVENT_KEY_ID_HEADER),
            signature: m.header.get(EVENT_SIGNATURE_HEADER),
          },
          verification,
          names,
        );
        if (!verdict.ok) throw new Error(`the stream holds a message a verifying consumer refuses: ${verdict.detail}`);
        ids.add(verdict.event.eventId);
      }
      return ids;
    };
    const holdsAll = async (ids: string[], manager?: JetStreamManager) => {
      const have = await held(manager);
      return ids.every((id) => have.has(id));
    };
    return { relay, startRelay, report, commit, held, holdsAll, stream };
  }

  it('refills a purged stream with every event, signed, and reports the loss', async () => {
    const { report, commit, holdsAll, stream } = await setup('purge', { nc, jsm }, 200);
    const ids = await commit(5);
    await eventually(() => holdsAll(ids), { description: 'the 5 events published' });
    await jsm.streams.purge(stream);
    await eventually(() => holdsAll(ids), { description: 'the purged events published again' });
    expect(report.losses).toHaveLength(1);
    expect(report.losses[0]).toMatch(
      /holds its messages up to sequence 0 but had acknowledged up to 5: republishing every event after the start/,
    );
    expect(report.republished).toBe(5);
  });

  it('notices a re-created stream by the PubAck of its next event, without waiting for an audit', async () => {
    const { report, commit, holdsAll, held, stream } = await setup('recreated', { nc, jsm }, 3_600_000);
    const before = await commit(4);
    await eventually(() => holdsAll(before), { description: 'the 4 events published' });
    await jsm.streams.delete(stream);
    await ensureEventStream(jsm, buses.at(-1)!.names, 'pairing');
    const after = await commit(1);
    await eventually(() => holdsAll([...before, ...after]), { description: 'every event in the new stream' });
    expect(report.losses).toHaveLength(1);
    expect(await held()).toEqual(new Set([...before, ...after]));
  });

  /** Publishes `count` copies of stored messages, in turn, as another producer would (publishCopy). */
  async function publishCopies(connection: NatsConnection, messages: StoredMsg[], count: number) {
    const js = jetstream(connection);
    for (let i = 0; i < count; i++) await publishCopy(js, messages[i % messages.length]!);
  }

  /**
   * A private server whose next `powerLoss()` brings it back with only what its disk held at `sync()`: the store
   * directory is copied while the server is down, and put back after it is killed.
   */
  async function privateServer(label: string) {
    const server = await startPrivateNatsServer();
    privateNats.push(server);
    const pnc = await connectNats([server.url], `outbox-relay-loss-${label}`);
    connections.push(pnc);
    const pjsm = await jetstreamManager(pnc);
    const copy = mkdtempSync(join(tmpdir(), 'nats-store-copy-'));
    copies.push(copy);
    return {
      bus: { nc: pnc, jsm: pjsm },
      sync: async () => {
        await server.stop();
        cpSync(server.storeDir, copy, { recursive: true });
        await server.start();
      },
      powerLoss: async () => {
        await server.kill();
        rmSync(server.storeDir, { recursive: true, force: true });
        cpSync(copy, server.storeDir, { recursive: true });
        await server.start();
      },
    };
  }

  it('notices, by the gap in its next PubAcks, a re-created stream that other messages refilled past what it acknowledged', async () => {
    const { report, commit, holdsAll, held, stream } = await setup('refilled-past', { nc, jsm }, 3_600_000);
    const before = await commit(4);
    await eventually(() => holdsAll(before), { description: 'the 4 events published' });
    const copied = await streamMessages(jsm, stream);
    await jsm.streams.delete(stream);
    await ensureEventStream(jsm, buses.at(-1)!.names, 'pairing');
    await publishCopies(nc, copied.slice(0, 1), 6);
    const after = await commit(1);
    await eventually(() => holdsAll([...before, ...after]), { description: 'every event in the new stream' });
    expect(report.losses).toHaveLength(1);
    expect(report.losses[0]).toMatch(/holds its messages up to sequence 0 but had acknowledged up to 4: .* after the start/);
    expect(await held()).toEqual(new Set([...before, ...after]));
  });

  it('notices, by its audit, a stream refilled up to exactly what it acknowledged, even once it has published past it', async () => {
    const { relay, startRelay, report, commit, holdsAll, held, stream } = await setup('refilled-exactly', { nc, jsm }, 300);
    const before = await commit(4);
    await eventually(() => holdsAll(before), { description: 'the 4 events published' });
    // A relay that starts audits before it publishes: once the next event is on the stream, it has read back the
    // message at its checkpoint's sequence.
    await relay.stop();
    startRelay();
    const more = await commit(1);
    await eventually(() => holdsAll([...before, ...more]), { description: 'the 5th event published' });
    const copied = await streamMessages(jsm, stream);
    await jsm.streams.delete(stream);
    await ensureEventStream(jsm, buses.at(-1)!.names, 'pairing');
    await publishCopies(nc, copied.slice(0, 1), 5);
    // Its next PubAck follows on from the sequence it had acknowledged: nothing in the sequences looks wrong.
    const after = await commit(1);
    await eventually(() => holdsAll([...before, ...more, ...after]), { description: 'every event in the new stream' });
    expect(report.losses).toHaveLength(1);
    expect(report.losses[0]).toMatch(/holds its messages up to sequence 0 but had acknowledged up to [56]: .* after the start/);
    expect(await held()).toEqual(new Set([...before, ...more, ...after]));
  });

  it('republishes the tail a power loss took, after the server comes back', async () => {
    const { bus, sync, powerLoss } = await privateServer('power');
    const { report, commit, holdsAll, held } = await setup('power', bus, 250);
    const synced = await commit(3);
    await eventually(() => holdsAll(synced, bus.jsm), { description: 'the first 3 events published' });
    await sync();
    const unsynced = await commit(4);
    await eventually(() => holdsAll(unsynced, bus.jsm), { description: 'the next 4 events published and acknowledged' });
    await powerLoss();
    await eventually(() => holdsAll([...synced, ...unsynced], bus.jsm), {
      description: 'the lost tail published again',
      timeoutMs: 20_000,
    });
    expect(report.losses.length).toBeGreaterThanOrEqual(1);
    expect(report.losses[0]).toMatch(/holds its messages up to sequence 3 but had acknowledged up to 7/);
    expect(await held(bus.jsm)).toEqual(new Set([...synced, ...unsynced]));
  });

  it('republishes a lost tail even when other messages have refilled the stream past what it acknowledged', async () => {
    const { bus, sync, powerLoss } = await privateServer('refilled');
    const { relay, startRelay, report, commit, holdsAll, held, stream } = await setup('refilled', bus, 250);
    const synced = await commit(3);
    await eventually(() => holdsAll(synced, bus.jsm), { description: 'the first 3 events published' });
    await sync();
    const unsynced = await commit(4);
    await eventually(() => holdsAll(unsynced, bus.jsm), { description: 'the next 4 events published and acknowledged' });
    await relay.stop();
    await powerLoss();
    // Before the relay is back, another producer republishes copies of the surviving messages under new message ids:
    // the stream's last sequence is again the one it had acknowledged, though the messages there are not the relay's.
    const survivors = await eventually(() => streamMessages(bus.jsm, stream), {
      description: 'the server back, with what its disk held',
    });
    await publishCopies(bus.nc, survivors, 4);
    expect((await bus.jsm.streams.info(stream)).state.last_seq).toBe(7);
    startRelay();
    await eventually(() => holdsAll([...synced, ...unsynced], bus.jsm), {
      description: 'the lost tail published again',
      timeoutMs: 20_000,
    });
    expect(report.losses).toHaveLength(1);
    expect(report.losses[0]).toMatch(/holds its messages up to sequence 3 but had acknowledged up to 7/);
    expect(await held(bus.jsm)).toEqual(new Set([...synced, ...unsynced]));
  });
});
