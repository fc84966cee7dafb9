import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { busNames, parseEnvelope, type BusNames, type EventMetadata, type PublishedEvent } from '../contracts/index.js';
import type { PostgresSettings } from '../config/service-config.js';
import { connectNats } from '../messaging/nats-connection.js';
import { PubAckPublisher } from '../messaging/pub-ack-publisher.js';
import { ensureEventStream } from '../messaging/streams.js';
import {
  createTestEventStore,
  deleteStreams,
  eventually,
  sampleEvent,
  startPrivateNatsServer,
  streamMessages,
  testBusNamespace,
  type PrivateNatsServer,
  type TestEventStore,
} from '../testing/index.js';
import { EventStore, type AppendedData, type StoredEvent } from './event-store.js';
import { OutboxRelay, type RelayObserver } from './outbox-relay.js';

const context = {
  occurredAt: new Date('2025-03-01T12:00:00.000Z'),
  metadata: { correlationId: 'corr-relay', causationId: null } satisfies EventMetadata,
};

let serialCounter = 0x200000000000;
function nextSerial(): string {
  return (serialCounter++).toString(16).toUpperCase().padStart(12, '0');
}
function registered(serial: string): PublishedEvent {
  return sampleEvent('ProductRegistered', { serial });
}
function firmwareChanged(serial: string, to: string): PublishedEvent {
  return sampleEvent('ProductFirmwareChanged', { serial, firmwareVersion: to });
}

/** Appends to a stream at its current version in one committed transaction. */
async function commit(fixture: TestEventStore, streamId: string, events: PublishedEvent[]): Promise<StoredEvent[]> {
  const { store } = fixture;
  return store.transaction(async (tx) =>
    store.append(tx, streamId, (await store.readStream(streamId, tx)).length, events, context),
  );
}

function recorder() {
  const record = { published: 0, failures: [] as Error[], attempts: [] as number[] };
  const observer: RelayObserver = {
    published: (count) => (record.published += count),
    failed: (error, attempt) => {
      record.failures.push(error);
      record.attempts.push(attempt);
    },
  };
  return { record, observer };
}

describe('OutboxRelay (PostgreSQL → JetStream)', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let admin: pg.Client;
  const fixtures: TestEventStore[] = [];
  const buses: { nc: NatsConnection; names: BusNames }[] = [];
  const relays: OutboxRelay[] = [];
  const connections: NatsConnection[] = [];
  let privateNats: PrivateNatsServer | undefined;

  beforeAll(async () => {
    nc = await connectNats(['nats://127.0.0.1:4222'], 'outbox-relay-int');
    jsm = await jetstreamManager(nc);
    // Watches the relays' sessions (pg_locks, pg_stat_activity are cluster-wide) from the maintenance database.
    admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    for (const { nc: conn, names } of buses) await deleteStreams(conn, names).catch(() => undefined);
    await Promise.all(fixtures.map((f) => f.dispose()));
    await Promise.all(connections.map((c) => c.close()));
    await privateNats?.dispose();
    await admin?.end().catch(() => undefined);
    await nc?.close();
  });

  /** A fresh event store schema and bus namespace (with the pairing stream) for one test. */
  async function setup(label: string, bus: { nc: NatsConnection; jsm: JetStreamManager } = { nc, jsm }) {
    const fixture = await createTestEventStore(`relay_${label}`);
    fixtures.push(fixture);
    const names = busNames(testBusNamespace(`relay-${label}`));
    buses.push({ nc: bus.nc, names });
    await ensureEventStream(bus.jsm, names, 'pairing');
    return { fixture, names, stream: names.stream('pairing') };
  }

  function startRelay(
    settings: PostgresSettings,
    names: BusNames,
    observer: RelayObserver,
    relayNc: NatsConnection = nc,
    pollIntervalMs = 100,
    appended?: AppendedData,
  ): OutboxRelay {
    const publisher = new PubAckPublisher(relayNc);
    const relay = new OutboxRelay({ postgres: settings, publisher, names, observer, pollIntervalMs, appended });
    relays.push(relay);
    relay.start();
    return relay;
  }

  async function published(
    stream: string,
    manager: JetStreamManager = jsm,
  ): Promise<{ eventId: string; msgId: string | undefined; subject: string }[]> {
    return (await streamMessages(manager, stream)).map((m) => ({
      eventId: parseEnvelope(m.data).eventId,
      msgId: m.header?.get('Nats-Msg-Id'),
      subject: m.subject,
    }));
  }

  async function databaseNow(): Promise<string> {
    return (await admin.query<{ now: string }>('SELECT clock_timestamp()::text AS now')).rows[0]!.now;
  }

  /**
   * Resolves once the relay holding this schema's lock has finished a read of the outbox that began after
   * `since` (a database timestamp): proof that it has seen everything committed before `since`, without
   * sleeping. Found through pg_locks (its advisory lock) and pg_stat_activity (its last statement).
   */
  async function relayReadOutboxAfter(settings: PostgresSettings, since: string): Promise<void> {
    await eventually(
      async () => {
        const { rows } = await admin.query<{ state: string; started_after: boolean; query: string }>(
          `WITH k AS (SELECT hashtext($1)::bigint AS key)
           SELECT a.state, a.query_start > $2::timestamptz AS started_after, a.query
             FROM k, pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = $3)
              AND l.classid::bigint = ((k.key >> 32) & 4294967295) AND l.objid::bigint = (k.key & 4294967295)`,
          [`${settings.schema}.outbox-relay.jetstream`, since, settings.database],
        );
        const row = rows[0];
        if (!row) throw new Error('no relay holds the lock');
        const readOutbox = /pg_snapshot_xmin|INSERT INTO relay_checkpoints/.test(row.query);
        if (row.state !== 'idle' || !row.started_after || !readOutbox) {
          throw new Error(
            `relay is ${row.state}, last statement started after: ${row.started_after}: ${row.query.trim().slice(0, 50)}`,
          );
        }
        return true;
      },
      { description: `the relay finished reading the outbox after ${since}` },
    );
  }

  describe('when events are committed', () => {
    it('publishes them in commit order with Nats-Msg-Id = eventId and a valid envelope, and advances the checkpoint', async () => {
      const { fixture, names, stream } = await setup('order');
      const [a, b] = [nextSerial(), nextSerial()];
      const before = [
        ...(await commit(fixture, `product-${a}`, [registered(a), firmwareChanged(a, '4.3')])),
        ...(await commit(fixture, `product-${b}`, [registered(b)])),
      ];
      const { record, observer } = recorder();
      const relay = startRelay(fixture.settings, names, observer);
      const after = await commit(fixture, `product-${a}`, [firmwareChanged(a, '4.4')]);
      const stored = [...before, ...after];

      const messages = await eventually(
        async () => {
          const all = await streamMessages(jsm, stream);
          return all.length >= stored.length && all;
        },
        { description: 'all four events on the stream' },
      );

      expect(messages).toHaveLength(4);
      messages.forEach((msg, i) => {
        const event = stored[i]!;
        expect(msg.header.get('Nats-Msg-Id')).toBe(event.eventId);
        expect(msg.subject).toBe(names.subjectOf({ type: event.type, data: event.data } as PublishedEvent));
        expect(parseEnvelope(msg.data)).toEqual({
          eventId: event.eventId,
          type: event.type,
          schemaVersion: 1,
          streamId: event.streamId,
          streamVersion: event.streamVersion,
          occurredAt: '2025-03-01T12:00:00.000Z',
          data: event.data,
          metadata: { correlationId: 'corr-relay', causationId: null },
        });
      });
      const last = stored[stored.length - 1]!;
      await eventually(
        async () => {
          const rows: { position: string; same_transaction: boolean }[] = await fixture.dataSource.query(
            `SELECT c.global_position::text AS position, c.transaction_id = e.transaction_id AS same_transaction
             FROM relay_checkpoints c JOIN events e ON e.global_position = c.global_position WHERE c.relay = 'jetstream'`,
          );
          expect(rows).toEqual([{ position: last.globalPosition, same_transaction: true }]);
          return true;
        },
        { description: 'the checkpoint at the last published event' },
      );
      expect(record.published).toBe(4);
      expect(relay.healthy).toBe(true);
      await relay.stop();
    });
  });

  describe("when the relay's own process appended the events", () => {
    it('publishes the data it holds without reading it back, and reads from the outbox what it does not hold', async () => {
      const { fixture, names, stream } = await setup('held');
      const [a, b] = [nextSerial(), nextSerial()];
      await commit(fixture, `product-${a}`, [registered(a)]); // held by the relay's process
      const elsewhere = { ...fixture, store: new EventStore(fixture.dataSource) }; // another process's store
      await commit(elsewhere, `product-${b}`, [registered(b)]);
      // Both stored documents changed behind the stores' backs: only what is read back can show it.
      await fixture.dataSource.query(`UPDATE events SET data = data || '{"model": "read back"}'`);

      startRelay(fixture.settings, names, recorder().observer, nc, 100, fixture.store.appended);
      const messages = await eventually(async () => {
        const all = await streamMessages(jsm, stream);
        return all.length >= 2 && all;
      });
      const modelOf = Object.fromEntries(
        messages
          .map((m) => parseEnvelope(m.data))
          .map((e) => [(e.data as { serial: string }).serial, (e.data as { model: string }).model]),
      );
      expect(modelOf).toEqual({ [a]: (registered(a).data as { model: string }).model, [b]: 'read back' });
    });
  });

  describe('when NATS is down while events are committed', () => {
    it('publishes them once NATS is back, on the same connection', async () => {
      privateNats = await startPrivateNatsServer();
      const pnc = await connectNats([privateNats.url], 'outbox-relay-int-outage');
      connections.push(pnc);
      const pjsm = await jetstreamManager(pnc);
      const { fixture, names, stream } = await setup('outage', { nc: pnc, jsm: pjsm });
      const { record, observer } = recorder();
      const relay = startRelay(fixture.settings, names, observer, pnc);
      const serial = nextSerial();
      const [first] = await commit(fixture, `product-${serial}`, [registered(serial)]);
      await eventually(async () => (await published(stream, pjsm)).length === 1, { description: 'the first event published' });

      await privateNats.stop();
      const [second] = await commit(fixture, `product-${serial}`, [firmwareChanged(serial, '5.0')]);
      await eventually(() => record.failures.length > 0, {
        timeoutMs: 15_000,
        description: 'the relay failing to publish while NATS is down',
      });
      expect(relay.healthy).toBe(false);
      await privateNats.start();

      const messages = await eventually(
        async () => {
          const all = await published(stream, pjsm);
          return all.length >= 2 && all;
        },
        { timeoutMs: 20_000, description: 'the event committed during the outage published' },
      );
      expect(messages.map((m) => m.eventId)).toEqual([first!.eventId, second!.eventId]);
      expect(messages.map((m) => m.msgId)).toEqual([first!.eventId, second!.eventId]);
      await eventually(() => relay.healthy, { description: 'the relay healthy again' });
      await relay.stop();
    }, 45_000);
  });

  describe('while it cannot publish', () => {
    it('reports the committed events it has not published as its backlog (counted past a batch), and 0 once it has', async () => {
      const { fixture, names, stream } = await setup('backlog');
      const serials = Array.from({ length: 7 }, nextSerial);
      for (const serial of serials) await commit(fixture, `product-${serial}`, [registered(serial)]);
      const backlog: number[] = [];
      const leader: boolean[] = [];
      const { record, observer } = recorder();
      let natsDown = true;
      const real = new PubAckPublisher(nc);
      const relay = new OutboxRelay({
        postgres: fixture.settings,
        names,
        batchSize: 3,
        pollIntervalMs: 100,
        publisher: {
          publishAll: (messages, limits) =>
            natsDown ? Promise.reject(new Error('NATS is down')) : real.publishAll(messages, limits),
        },
        observer: { ...observer, backlog: (n) => backlog.push(n), leader: (l) => leader.push(l) },
      });
      relays.push(relay);
      relay.start();

      // A full batch (3) read: the rest are counted, so the gauge says 7, not 3.
      await eventually(() => record.failures.length >= 2, { description: 'the relay failing to publish' });
      // Counted in a row, so that the services can say the first failure and every tenth.
      expect(record.attempts.slice(0, 2)).toEqual([1, 2]);
      expect(leader).toEqual([true]);
      expect(new Set(backlog)).toEqual(new Set([7]));

      natsDown = false;
      await eventually(async () => (await published(stream)).length === 7 && backlog.at(-1) === 0, {
        description: 'the backlog published',
      });
      expect(backlog.slice(backlog.lastIndexOf(7) + 1)).toEqual(expect.arrayContaining([4, 1, 0]));
      await relay.stop();
      expect(leader.at(-1)).toBe(false);
    });
  });

  describe('when transactions commit out of position order', () => {
    it('waits for the open transaction with the lower position and then publishes both, skipping nothing', async () => {
      const { fixture, names, stream } = await setup('overtake');
      const { observer } = recorder();
      const relay = startRelay(fixture.settings, names, observer);
      const [a, b] = [nextSerial(), nextSerial()];

      const transactionA = fixture.dataSource.createQueryRunner();
      await transactionA.connect();
      await transactionA.startTransaction();
      try {
        const [eventA] = await fixture.store.append(transactionA.manager, `product-${a}`, 0, [registered(a)], context);
        const [eventB] = await commit(fixture, `product-${b}`, [registered(b)]);
        expect(BigInt(eventA!.globalPosition)).toBeLessThan(BigInt(eventB!.globalPosition));

        await relayReadOutboxAfter(fixture.settings, await databaseNow());
        expect(await published(stream)).toEqual([]);

        await transactionA.commitTransaction();
        const messages = await eventually(
          async () => {
            const all = await published(stream);
            return all.length >= 2 && all;
          },
          { description: 'both events published' },
        );
        expect(messages.map((m) => m.eventId)).toEqual([eventA!.eventId, eventB!.eventId]);
      } finally {
        if (transactionA.isTransactionActive) await transactionA.rollbackTransaction();
        await transactionA.release();
      }
      await relay.stop();
    });
  });

  describe('when a transaction elsewhere on the server holds committed events back', () => {
    it('publishes them soon after it ends, though it writes no event and sends no NOTIFY', async () => {
      const { fixture, names, stream } = await setup('held-back');
      const { observer } = recorder();
      // A ten-minute poll: only the relay's short re-check can publish within the probe's deadline.
      const relay = startRelay(fixture.settings, names, observer, nc, 600_000);
      const unrelated = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
      await unrelated.connect();
      try {
        await unrelated.query('BEGIN');
        await unrelated.query('SELECT pg_current_xact_id()'); // holds the cluster-wide xmin
        const serial = nextSerial();
        const [event] = await commit(fixture, `product-${serial}`, [registered(serial)]);
        await relayReadOutboxAfter(fixture.settings, await databaseNow());
        expect(await published(stream)).toEqual([]);

        await unrelated.query('COMMIT');
        const messages = await eventually(
          async () => {
            const all = await published(stream);
            return all.length === 1 && all;
          },
          { description: 'the held-back event published' },
        );
        expect(messages.map((m) => m.eventId)).toEqual([event!.eventId]);
      } finally {
        await unrelated.end();
      }
      await relay.stop();
    });
  });

  describe('when a transaction is still open or rolls back', () => {
    it('publishes none of its events', async () => {
      const { fixture, names, stream } = await setup('rollback');
      const { observer } = recorder();
      const relay = startRelay(fixture.settings, names, observer);
      const [r, s] = [nextSerial(), nextSerial()];

      const open = fixture.dataSource.createQueryRunner();
      await open.connect();
      await open.startTransaction();
      let rolledBack: StoredEvent | undefined;
      try {
        [rolledBack] = await fixture.store.append(
          open.manager,
          `product-${r}`,
          0,
          [registered(r), firmwareChanged(r, '5.0')],
          context,
        );
        await relayReadOutboxAfter(fixture.settings, await databaseNow());
        expect(await published(stream)).toEqual([]);
      } finally {
        await open.rollbackTransaction();
        await open.release();
      }
      // A later transaction's event is published only after anything before it would have been.
      const [committed] = await commit(fixture, `product-${s}`, [registered(s)]);
      const messages = await eventually(
        async () => {
          const all = await published(stream);
          return all.length >= 1 && all;
        },
        { description: 'the committed event published' },
      );
      expect(messages.map((m) => m.eventId)).toEqual([committed!.eventId]);
      expect(messages.map((m) => m.eventId)).not.toContain(rolledBack!.eventId);
      await relay.stop();
    });
  });

  describe('when two relays run on the same schema', () => {
    it('lets only the lock holder publish, without duplicates, and the standby take over when it stops', async () => {
      const { fixture, names, stream } = await setup('standby');
      const one = recorder();
      const two = recorder();
      const relayOne = startRelay(fixture.settings, names, one.observer);
      const relayTwo = startRelay(fixture.settings, names, two.observer);
      await eventually(() => relayOne.isLeader || relayTwo.isLeader, { description: 'a relay elected' });

      const serials = Array.from({ length: 10 }, nextSerial);
      const stored = (await Promise.all(serials.map((s) => commit(fixture, `product-${s}`, [registered(s)])))).flat();
      await eventually(async () => (await published(stream)).length >= 10 && one.record.published + two.record.published >= 10, {
        description: 'ten events published',
      });

      expect([relayOne.isLeader, relayTwo.isLeader].sort()).toEqual([false, true]);
      const [leader, standby] = relayOne.isLeader ? [one, two] : [two, one];
      expect(leader.record.published).toBe(10);
      expect(standby.record.published).toBe(0);
      const messages = await published(stream);
      expect(messages).toHaveLength(10);
      expect(new Set(messages.map((m) => m.eventId))).toEqual(new Set(stored.map((e) => e.eventId)));
      expect((await jsm.streams.info(stream)).state.messages).toBe(10);

      await (relayOne.isLeader ? relayOne : relayTwo).stop();
      const next = nextSerial();
      await commit(fixture, `product-${next}`, [registered(next), firmwareChanged(next, '5.0')]);
      await eventually(async () => (await published(stream)).length >= 12 && standby.record.published >= 2, {
        description: 'the standby publishing the next events',
      });
      expect(standby.record.published).toBe(2);
      expect(leader.record.published).toBe(10);
      expect(new Set((await published(stream)).map((m) => m.eventId)).size).toBe(12);
      expect((await jsm.streams.info(stream)).state.messages).toBe(12);
      await Promise.all([relayOne.stop(), relayTwo.stop()]);
    });
  });
});
