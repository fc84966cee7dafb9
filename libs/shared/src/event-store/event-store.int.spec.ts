import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  RuleViolation,
  type Decider,
  type EventMetadata,
  type ProductFirmwareChangedV1,
  type ProductRegisteredV1,
} from '../contracts/index.js';
import pg from 'pg';
import { pgClientConfig } from '../database/postgres.js';
import { createTestEventStore, eventually, testPostgresSettings, type TestEventStore } from '../testing/index.js';
import { handleCommand, type CommandEnvelope } from './command-handler.js';
import { VersionConflictError, type EventStore, type StoredEvent } from './event-store.js';
import { notifyChannelOf } from './event-store.migration.js';

// A tiny product decider over the real pairing event types: register once, then change firmware.
type ProductEvent =
  { type: 'ProductRegistered'; data: ProductRegisteredV1 } | { type: 'ProductFirmwareChanged'; data: ProductFirmwareChangedV1 };
type ProductCommand =
  | ({ type: 'RegisterProduct'; data: { serial: string; firmwareVersion: string } } & CommandEnvelope)
  | ({ type: 'ChangeFirmware'; data: { serial: string; firmwareVersion: string } } & CommandEnvelope);
type ProductState = { status: 'unknown' } | { status: 'registered'; serial: string; firmwareVersion: string };

const productDecider: Decider<ProductCommand, ProductEvent, ProductState> = {
  initialState: { status: 'unknown' },
  decide(command, state) {
    const at = command.metadata.now.toISOString();
    switch (command.type) {
      case 'RegisterProduct':
        if (state.status === 'registered')
          throw new RuleViolation('PRODUCT_ALREADY_REGISTERED', 'conflict', 'already registered');
        return [
          {
            type: 'ProductRegistered',
            data: {
              serial: command.data.serial,
              model: 'FW-500',
              firmwareVersion: command.data.firmwareVersion,
              accountId: 'acct-1',
              registeredAt: at,
            },
          },
        ];
      case 'ChangeFirmware':
        if (state.status !== 'registered') throw new RuleViolation('PRODUCT_NOT_FOUND', 'not-found', 'not registered');
        return [
          {
            type: 'ProductFirmwareChanged',
            data: {
              serial: state.serial,
              model: 'FW-500',
              accountId: 'acct-1',
              previousFirmwareVersion: state.firmwareVersion,
              firmwareVersion: command.data.firmwareVersion,
              changedAt: at,
            },
          },
        ];
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'ProductRegistered':
        return { status: 'registered', serial: event.data.serial, firmwareVersion: event.data.firmwareVersion };
      case 'ProductFirmwareChanged':
        return state.status === 'registered' ? { ...state, firmwareVersion: event.data.firmwareVersion } : state;
    }
  },
};

const NOW = new Date('2025-03-01T12:00:00.000Z');
const metadata: EventMetadata = { correlationId: 'corr-1', causationId: 'cause-1' };
let serialCounter = 0x100000000000;
function nextSerial(): string {
  return (serialCounter++).toString(16).toUpperCase().padStart(12, '0');
}

function registered(serial: string, firmwareVersion = '4.0'): ProductEvent {
  return {
    type: 'ProductRegistered',
    data: { serial, model: 'FW-500', firmwareVersion, accountId: 'acct-1', registeredAt: NOW.toISOString() },
  };
}
function firmwareChanged(serial: string, from: string, to: string): ProductEvent {
  return {
    type: 'ProductFirmwareChanged',
    data: {
      serial,
      model: 'FW-500',
      accountId: 'acct-1',
      previousFirmwareVersion: from,
      firmwareVersion: to,
      changedAt: NOW.toISOString(),
    },
  };
}

/** Lets `parties` callers proceed only once all of them arrived. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    if (++arrived === parties) open();
    return opened;
  };
}

describe('EventStore (PostgreSQL)', () => {
  let fixture: TestEventStore;
  let store: EventStore;

  beforeAll(async () => {
    fixture = await createTestEventStore('event_store');
    store = fixture.store;
  });

  afterAll(async () => {
    await fixture?.dispose();
  });

  describe('when a stream is appended to and read back', () => {
    it('returns the events with their types, data, versions, positions and metadata', async () => {
      const serial = nextSerial();
      const streamId = `product-${serial}`;
      const first = await store.transaction((tx) =>
        store.append(tx, streamId, 0, [registered(serial), firmwareChanged(serial, '4.0', '4.1')], { occurredAt: NOW, metadata }),
      );
      const second = await store.transaction((tx) =>
        store.append(tx, streamId, 2, [firmwareChanged(serial, '4.1', '4.2')], {
          occurredAt: new Date('2025-03-02T00:00:00.000Z'),
          metadata: { correlationId: null, causationId: null },
        }),
      );

      const read = await store.readStream(streamId);

      expect(read).toEqual([...first, ...second]);
      expect(read.map((e) => [e.type, e.streamVersion, e.schemaVersion])).toEqual([
        ['ProductRegistered', 1, 1],
        ['ProductFirmwareChanged', 2, 1],
        ['ProductFirmwareChanged', 3, 1],
      ]);
      expect(read.map((e) => e.data)).toEqual([
        registered(serial).data,
        firmwareChanged(serial, '4.0', '4.1').data,
        firmwareChanged(serial, '4.1', '4.2').data,
      ]);
      expect(read.map((e) => e.streamId)).toEqual([streamId, streamId, streamId]);
      expect(read.map((e) => e.occurredAt)).toEqual([NOW.toISOString(), NOW.toISOString(), '2025-03-02T00:00:00.000Z']);
      expect(read.map((e) => e.metadata)).toEqual([metadata, metadata, { correlationId: null, causationId: null }]);
      for (const event of read)
        expect(event.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(new Set(read.map((e) => e.eventId)).size).toBe(3);
      const positions = read.map((e) => BigInt(e.globalPosition));
      expect(positions[0]! < positions[1]! && positions[1]! < positions[2]!).toBe(true);
    });

    it('reads an unknown stream as empty and appends nothing for no events', async () => {
      expect(await store.readStream('product-nothing-here')).toEqual([]);
      expect(
        await store.transaction((tx) => store.append(tx, 'product-nothing-here', 0, [], { occurredAt: NOW, metadata })),
      ).toEqual([]);
      expect(await store.readStream('product-nothing-here')).toEqual([]);
    });

    it('refuses an event type the catalog does not know', async () => {
      const unknown = { type: 'ProductExploded', data: {} } as unknown as ProductEvent;
      await expect(
        store.transaction((tx) => store.append(tx, 'product-x', 0, [unknown], { occurredAt: NOW, metadata })),
      ).rejects.toThrow('cannot append unknown event type ProductExploded');
    });

    it('appends nothing when the transaction rolls back', async () => {
      const serial = nextSerial();
      await expect(
        store.transaction(async (tx) => {
          await store.append(tx, `product-${serial}`, 0, [registered(serial)], { occurredAt: NOW, metadata });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await store.readStream(`product-${serial}`)).toEqual([]);
    });
  });

  describe('when a commit appended events', () => {
    /**
     * The notifications the schema's channel receives during `act` and until `until` holds (none: until a fence
     * notification sent afterwards arrives; the store's own NOTIFY is sent after `act` resolves).
     */
    async function notificationsDuring(act: () => Promise<unknown>, until?: (received: number) => boolean): Promise<number> {
      const channel = notifyChannelOf(fixture.settings.schema);
      const listener = new pg.Client(pgClientConfig(fixture.settings));
      await listener.connect();
      try {
        const payloads: string[] = [];
        listener.on('notification', (n) => payloads.push(n.payload ?? ''));
        await listener.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        await act().catch(() => undefined);
        const received = () => payloads.filter((p) => p !== 'fence').length;
        if (until)
          await eventually(async () => (await listener.query('SELECT 1'), until(received())), { description: 'the NOTIFY' });
        await fixture.dataSource.query('SELECT pg_notify($1, $2)', [channel, 'fence']);
        await eventually(async () => (await listener.query('SELECT 1'), payloads.includes('fence')), {
          description: 'the fence',
        });
        return received();
      } finally {
        await listener.end();
      }
    }

    const inTransaction = (serial: string, then?: () => never) => () =>
      store.transaction(async (tx) => {
        await store.append(tx, `product-${serial}`, 0, [registered(serial)], { occurredAt: NOW, metadata });
        then?.();
      });
    const alone = (serial: string) => () =>
      store.appendAlone(
        {
          streamId: `product-${serial}`,
          expectedVersion: 0,
          events: [registered(serial)],
          context: { occurredAt: NOW, metadata },
        },
        null,
      );

    it.each([
      ['a transaction', inTransaction],
      ['one statement', alone],
    ] as const)('after %s the relay of its process is poked while it leads, and nothing is notified', async (_, append) => {
      let pokes = 0;
      store.announceCommitsTo({ isLeader: true, poke: () => pokes++ });
      try {
        expect(await notificationsDuring(append(nextSerial()))).toBe(0);
        expect(pokes).toBe(1);
      } finally {
        store.announceCommitsTo({ isLeader: false, poke: () => undefined });
      }
    });

    it.each([
      ['a transaction', inTransaction],
      ['one statement', alone],
    ] as const)('after %s without a leading relay in its process, the relay elsewhere is notified', async (_, append) => {
      expect(await notificationsDuring(append(nextSerial()), (received) => received > 0)).toBe(1);
    });

    it('a transaction that rolls back announces nothing', async () => {
      let pokes = 0;
      expect(
        await notificationsDuring(
          inTransaction(nextSerial(), () => {
            throw new Error('abort');
          }),
        ),
      ).toBe(0);
      store.announceCommitsTo({ isLeader: true, poke: () => pokes++ });
      await inTransaction(nextSerial(), () => {
        throw new Error('abort');
      })().catch(() => undefined);
      store.announceCommitsTo({ isLeader: false, poke: () => undefined });
      expect(pokes).toBe(0);
    });
  });

  describe('when the schema has the longest name DB_SCHEMA accepts (63 characters)', () => {
    it('still appends events', async () => {
      const base = testPostgresSettings('long');
      const settings = { ...base, schema: base.schema.padEnd(63, 'x') };
      const longSchema = await createTestEventStore(settings);
      try {
        const serial = nextSerial();
        const appended = await longSchema.store.transaction((tx) =>
          longSchema.store.append(tx, `product-${serial}`, 0, [registered(serial)], { occurredAt: NOW, metadata }),
        );
        expect(appended.map((e) => e.streamVersion)).toEqual([1]);
      } finally {
        await longSchema.dispose();
      }
    });
  });

  describe('when writers race for the same stream version', () => {
    it('lets exactly one of 20 concurrent appends win; the others get VersionConflictError', async () => {
      const serial = nextSerial();
      const streamId = `product-${serial}`;
      await store.transaction((tx) => store.append(tx, streamId, 0, [registered(serial)], { occurredAt: NOW, metadata }));

      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          store.transaction((tx) =>
            store.append(tx, streamId, 1, [firmwareChanged(serial, '4.0', `5.${i}`)], { occurredAt: NOW, metadata }),
          ),
        ),
      );

      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(19);
      for (const { reason } of lost) {
        expect(reason).toBeInstanceOf(VersionConflictError);
        expect(reason).toMatchObject({ streamId, expectedVersion: 1 });
      }
      const stream = await store.readStream(streamId);
      expect(stream.map((e) => e.streamVersion)).toEqual([1, 2]);
      expect(stream[1]).toEqual((won[0] as PromiseFulfilledResult<StoredEvent[]>).value[0]);
    });
  });

  describe('handleCommand', () => {
    function command(type: ProductCommand['type'], serial: string, firmwareVersion: string): ProductCommand {
      return { type, data: { serial, firmwareVersion }, metadata: { now: NOW, correlationId: `corr-${firmwareVersion}` } };
    }

    it('retries a version conflict, so two concurrent commands are both applied, one after the other', async () => {
      const serial = nextSerial();
      const streamId = `product-${serial}`;
      await handleCommand({ store, decider: productDecider, streamId, command: command('RegisterProduct', serial, '4.0') });

      // Both commands read version 1 before either appends: one append must lose and be retried.
      const bothRead = barrier(2);
      const attempts: string[] = [];
      const change = (firmwareVersion: string) =>
        handleCommand({
          store,
          decider: productDecider,
          streamId,
          command: async () => {
            attempts.push(firmwareVersion);
            if (attempts.filter((a) => a === firmwareVersion).length === 1) await bothRead();
            return command('ChangeFirmware', serial, firmwareVersion);
          },
        });

      const [a, b] = await Promise.all([change('5.0'), change('6.0')]);

      expect(attempts).toHaveLength(3);
      const stream = await store.readStream<ProductEvent>(streamId);
      expect(stream.map((e) => [e.type, e.streamVersion])).toEqual([
        ['ProductRegistered', 1],
        ['ProductFirmwareChanged', 2],
        ['ProductFirmwareChanged', 3],
      ]);
      const [, first, second] = stream as [unknown, { data: ProductFirmwareChangedV1 }, { data: ProductFirmwareChangedV1 }];
      expect(first.data.previousFirmwareVersion).toBe('4.0');
      expect(second.data.previousFirmwareVersion).toBe(first.data.firmwareVersion);
      expect(new Set([first.data.firmwareVersion, second.data.firmwareVersion])).toEqual(new Set(['5.0', '6.0']));
      expect([...a.events, ...b.events].sort((x, y) => x.streamVersion - y.streamVersion)).toEqual(stream.slice(1));
      expect(stream[2]!.metadata).toEqual({ correlationId: `corr-${second.data.firmwareVersion}`, causationId: null });
      const last = a.events[0]!.streamVersion === 3 ? a : b;
      expect(last.state).toEqual({ status: 'registered', serial, firmwareVersion: second.data.firmwareVersion });
    });

    it('passes the rule violation of the retried decision to the caller and appends nothing more', async () => {
      const serial = nextSerial();
      const streamId = `product-${serial}`;
      const bothRead = barrier(2);
      let calls = 0;
      const register = () =>
        handleCommand({
          store,
          decider: productDecider,
          streamId,
          command: async () => {
            if (++calls <= 2) await bothRead();
            return command('RegisterProduct', serial, '4.0');
          },
        });

      const results = await Promise.allSettled([register(), register()]);

      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
      expect(rejected.reason).toBeInstanceOf(RuleViolation);
      expect(rejected.reason).toMatchObject({ code: 'PRODUCT_ALREADY_REGISTERED' });
      expect(calls).toBe(3);
      expect((await store.readStream(streamId)).map((e) => e.type)).toEqual(['ProductRegistered']);
    });

    it('decides a new stream without reading it, and reads and decides again if the stream existed after all', async () => {
      const fresh = nextSerial();
      const created = await handleCommand({
        store,
        decider: productDecider,
        streamId: `product-${fresh}`,
        newStream: true,
        command: command('RegisterProduct', fresh, '4.0'),
      });
      expect(created.events.map((e) => [e.type, e.streamVersion])).toEqual([['ProductRegistered', 1]]);

      // Wrongly said to be new: the append at version 0 conflicts, the retry reads the stream and the rule applies.
      const again = handleCommand({
        store,
        decider: productDecider,
        streamId: `product-${fresh}`,
        newStream: true,
        command: command('RegisterProduct', fresh, '5.0'),
      });
      await expect(again).rejects.toMatchObject({ code: 'PRODUCT_ALREADY_REGISTERED' });
      expect((await store.readStream(`product-${fresh}`)).map((e) => e.type)).toEqual(['ProductRegistered']);
    });

    it('gives up after maxAttempts conflicts and rethrows the VersionConflictError', async () => {
      const serial = nextSerial();
      const streamId = `product-${serial}`;
      await handleCommand({ store, decider: productDecider, streamId, command: command('RegisterProduct', serial, '4.0') });
      let attempts = 0;
      // Another writer appends after every read, so every attempt conflicts.
      const result = handleCommand({
        store,
        decider: productDecider,
        streamId,
        maxAttempts: 3,
        command: async () => {
          attempts++;
          const version = (await store.readStream(streamId)).length;
          await store.transaction((tx) =>
            store.append(tx, streamId, version, [firmwareChanged(serial, 'x', `9.${attempts}`)], { occurredAt: NOW, metadata }),
          );
          return command('ChangeFirmware', serial, '7.0');
        },
      });
      await expect(result).rejects.toBeInstanceOf(VersionConflictError);
      expect(attempts).toBe(3);
    });
  });
  describe('handleCommand with an inline projection written in the append statement', () => {
    beforeAll(async () => {
      await store.transaction((tx) =>
        tx.query('CREATE TABLE firmware_view (serial text PRIMARY KEY, firmware_version text NOT NULL, version int NOT NULL)'),
      );
    });

    const firmwareRow = (state: ProductState, version: number) =>
      state.status === 'registered'
        ? {
            name: 'test.firmware-view',
            text: `INSERT INTO firmware_view (serial, firmware_version, version) VALUES ($1, $2, $3)
                   ON CONFLICT (serial) DO UPDATE SET firmware_version = EXCLUDED.firmware_version, version = EXCLUDED.version
                   WHERE firmware_view.version < EXCLUDED.version`,
            values: [state.serial, state.firmwareVersion, version],
          }
        : null;
    const viewOf = async (serial: string) =>
      (
        await store.transaction((tx) =>
          tx.query('SELECT firmware_version, version FROM firmware_view WHERE serial = $1', [serial]),
        )
      )[0];
    const run = (
      serial: string,
      type: ProductCommand['type'],
      firmwareVersion: string,
      newStream = false,
      project: typeof firmwareRow = firmwareRow,
    ) =>
      handleCommand({
        store,
        decider: productDecider,
        streamId: `product-${serial}`,
        newStream,
        maxAttempts: 20,
        command: { type, data: { serial, firmwareVersion }, metadata: { now: NOW, correlationId: 'corr-1', actor: 'key-1' } },
        project,
      });

    it('appends the events and writes the projection together, with the actor in the metadata', async () => {
      const serial = nextSerial();
      const { events, state } = await run(serial, 'RegisterProduct', '4.0', true);
      expect(events.map((e) => [e.type, e.streamVersion, e.metadata])).toEqual([
        ['ProductRegistered', 1, { correlationId: 'corr-1', causationId: null, actor: 'key-1' }],
      ]);
      expect(state).toEqual({ status: 'registered', serial, firmwareVersion: '4.0' });
      expect(await viewOf(serial)).toEqual({ firmware_version: '4.0', version: 1 });
    });

    it('applies ten concurrent commands one after the other, and the projection ends at the last', async () => {
      const serial = nextSerial();
      await run(serial, 'RegisterProduct', '4.0', true);
      const versions = Array.from({ length: 10 }, (_, i) => `5.${i}`);
      await Promise.all(versions.map((v) => run(serial, 'ChangeFirmware', v)));
      const stream = await store.readStream<ProductEvent>(`product-${serial}`);
      expect(stream.map((e) => e.streamVersion)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
      const changes = stream.slice(1).map((e) => e.data as ProductFirmwareChangedV1);
      // Each change was decided on the stream as it was: it names the version before it.
      changes.forEach((c, i) => expect(c.previousFirmwareVersion).toBe(i === 0 ? '4.0' : changes[i - 1]!.firmwareVersion));
      expect(new Set(changes.map((c) => c.firmwareVersion))).toEqual(new Set(versions));
      expect(await viewOf(serial)).toEqual({ firmware_version: changes.at(-1)!.firmwareVersion, version: 11 });
    });

    it('appends nothing when the projection fails, and passes the error on', async () => {
      const serial = nextSerial();
      const failing = run(serial, 'RegisterProduct', '4.0', true, () => ({
        name: 'test.failing-view',
        text: 'INSERT INTO firmware_view (serial) VALUES ($1)',
        values: [serial],
      }));
      await expect(failing).rejects.toThrow(/firmware_version/);
      expect(await store.readStream(`product-${serial}`)).toEqual([]);
      expect(await viewOf(serial)).toBeUndefined();
    });

    it('survives its connection being cut mid-statement: the command fails, the next one runs on a fresh connection', async () => {
      const serial = nextSerial();
      const slow = run(serial, 'RegisterProduct', '4.0', true, () => ({
        name: 'test.slow-view',
        text: `INSERT INTO firmware_view (serial, firmware_version, version) SELECT $1, '4.0', 1 FROM pg_sleep($2::float8)`,
        values: [serial, 30],
      }));
      const admin = new pg.Client({ ...pgClientConfig(fixture.settings), options: undefined });
      await admin.connect();
      try {
        await eventually(async () => {
          const { rowCount } = await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()`,
          );
          return rowCount! > 0;
        });
      } finally {
        await admin.end();
      }
      await expect(slow).rejects.toThrow(/terminat/i);
      expect(await store.readStream(`product-${serial}`)).toEqual([]);
      const { events } = await run(serial, 'RegisterProduct', '4.0', true);
      expect(events.map((e) => e.streamVersion)).toEqual([1]);
    });

    it('refuses to be combined with a transaction of its own', async () => {
      const serial = nextSerial();
      const mixed = handleCommand({
        store,
        decider: productDecider,
        streamId: `product-${serial}`,
        command: async (): Promise<ProductCommand> => ({
          type: 'RegisterProduct',
          data: { serial, firmwareVersion: '4.0' },
          metadata: { now: NOW },
        }),
        project: firmwareRow,
      });
      await expect(mixed).rejects.toThrow(/cannot run a transaction as well/);
    });
  });
});
