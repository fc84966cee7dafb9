/**
 * The repository's nats-server permissions (deploy/nats/permissions.conf), on a nats-server of this file's own:
 * each service's bus user can do its job and nothing of another's; the reader only reads; administration is the
 * admin's; with TLS, only a client that trusts the CA gets in.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { busNames, type EventSource } from '../contracts/index.js';
import type { NatsSettings } from '../config/service-config.js';
import { startSecureNatsServer, type BusUser, type SecureNatsServer } from '../testing/index.js';
import { setupBus } from './bus-setup.js';
import { type DurableConsumerSpec } from './durable-consumer.js';
import { connectNats } from './nats-connection.js';

const names = busNames(''); // the permissions are written for the production (empty) namespace
const SERVICES: readonly EventSource[] = ['pairing', 'licensing', 'sync-agent'];
/** The durables the services read with (the same as licensingConsumers / projectionConsumers in the apps). */
const DURABLES: readonly DurableConsumerSpec[] = [
  { stream: 'PAIRING', durable: 'licensing', filterSubject: names.subjectsOfType('ProductsAssociated') },
  { stream: 'PAIRING', durable: 'sync-agent', filterSubject: 'pairing.>' },
  { stream: 'LICENSING', durable: 'sync-agent', filterSubject: 'licensing.>' },
];
const SERIAL = '0123456789AB';
const subjectOf = (source: EventSource) =>
  ({
    pairing: `pairing.v1.products-associated.${SERIAL}`,
    licensing: `licensing.v1.entitlement-changed.${SERIAL}`,
    'sync-agent': `sync-agent.v1.effective-licenses-changed.${SERIAL}`,
  })[source];

/** The error a refused operation ends with, or a failure of the test if it was allowed. */
async function refusal(operation: () => Promise<unknown>): Promise<string> {
  try {
    await operation();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the operation was allowed');
}

/** Subscribes and waits for the server's verdict: the error of a refused subscription. */
async function subscriptionRefusal(nc: NatsConnection, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  const ended = (async () => {
    for await (const _ of sub) return 'a message arrived';
    return 'closed without error';
  })();
  return ended.catch((error: Error) => error.message);
}

describe('bus permissions (deploy/nats/permissions.conf)', () => {
  let bus: SecureNatsServer;
  const connections = new Map<BusUser, NatsConnection>();
  const settingsOf = (user: BusUser): NatsSettings => ({
    servers: [bus.url],
    user,
    password: bus.passwords[user],
    inboxPrefix: `_INBOX_${user}`,
  });
  const nc = (user: BusUser) => connections.get(user)!;
  const js = (user: BusUser): JetStreamClient => jetstream(nc(user));

  beforeAll(async () => {
    bus = await startSecureNatsServer();
    for (const user of ['bus-admin', 'pairing', 'licensing', 'sync-agent', 'bus-reader'] as const)
      connections.set(user, await connectNats(settingsOf(user), `permissions-int-${user}`));
    await setupBus(await jetstreamManager(nc('bus-admin')), names, DURABLES);
  });

  afterAll(async () => {
    for (const c of connections.values()) await c.close().catch(() => undefined);
    await bus?.dispose();
  });

  describe('each service user can do its job', () => {
    it('pairing and licensing publish their events; licensing and the sync agent fetch and ack them on their durables', async () => {
      const pairingAck = await js('pairing').publish(subjectOf('pairing'), '{}');
      const licensingAck = await js('licensing').publish(subjectOf('licensing'), '{}');
      expect([pairingAck.stream, licensingAck.stream]).toEqual(['PAIRING', 'LICENSING']);

      for (const [user, stream, durable] of [
        ['licensing', 'PAIRING', 'licensing'],
        ['sync-agent', 'PAIRING', 'sync-agent'],
        ['sync-agent', 'LICENSING', 'sync-agent'],
      ] as const) {
        const consumer = await js(user).consumers.get(stream, durable);
        const msg = await consumer.next({ expires: 5_000 });
        expect(msg?.subject).toBe(stream === 'PAIRING' ? subjectOf('pairing') : subjectOf('licensing'));
        await msg!.ackAck();
        expect((await consumer.info()).num_ack_pending).toBe(0);
      }
    });

    it('the sync agent publishes its output, and the reader receives it', async () => {
      const sub = nc('bus-reader').subscribe('sync-agent.>', { max: 1 });
      await nc('bus-reader').flush();
      const received = (async () => {
        for await (const m of sub) return m.subject;
        return 'no message';
      })();
      await js('sync-agent').publish(subjectOf('sync-agent'), '{}');
      expect(await received).toBe(subjectOf('sync-agent'));
    });

    it('licensing asks pairing for a product and gets the answer on its own inbox', async () => {
      const served = nc('pairing').subscribe(names.productLookup, { queue: 'pairing' });
      void (async () => {
        for await (const m of served) m.respond(JSON.stringify({ serial: SERIAL }));
      })();
      await nc('pairing').flush();
      const reply = await nc('licensing').request(names.productLookup, JSON.stringify({ serial: SERIAL }), { timeout: 5_000 });
      expect(reply.json()).toEqual({ serial: SERIAL });
      served.unsubscribe();
    });
  });

  describe('no service user can act as another', () => {
    const foreign = SERVICES.flatMap((user) => SERVICES.filter((s) => s !== user).map((source) => [user, source] as const));

    it.each(foreign)('%s may not publish %s events', async (user, source) => {
      expect(await refusal(() => js(user).publish(subjectOf(source), '{}', { timeout: 3_000 }))).toMatch(
        /Permissions Violation for Publish/,
      );
    });

    it.each(foreign)("%s may not read %s's inbox (its replies, PubAcks and deliveries)", async (user, other) => {
      expect(await subscriptionRefusal(nc(user), `_INBOX_${other}.>`)).toMatch(/Permissions Violation for Subscription/);
    });

    it.each(SERVICES)('%s may not subscribe to everything', async (user) => {
      expect(await subscriptionRefusal(nc(user), '>')).toMatch(/Permissions Violation for Subscription/);
    });

    it.each([
      ['pairing', 'PAIRING', 'sync-agent'],
      ['licensing', 'LICENSING', 'sync-agent'],
      ['sync-agent', 'PAIRING', 'licensing'],
    ] as const)("%s may not fetch from another service's durable (%s/%s)", async (user, stream, durable) => {
      expect((await (await jetstreamManager(nc('bus-admin'))).consumers.info(stream, durable)).name).toBe(durable);
      expect(
        await refusal(async () => {
          const c = await js(user).consumers.get(stream, durable);
          return c.next({ expires: 2_000 });
        }),
      ).toMatch(/Permissions Violation/);
    });
  });

  describe("stream and consumer administration is the admin user's alone", () => {
    const admin: [string, (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<unknown>][] = [
      ['create a stream', (jsm) => jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] })],
      ['update a stream', (jsm) => jsm.streams.update('LICENSING', { max_age: 1_000_000_000 })],
      ['purge a stream', (jsm) => jsm.streams.purge('LICENSING')],
      ['delete a stream', (jsm) => jsm.streams.delete('PAIRING')],
      ['delete a message', (jsm) => jsm.streams.deleteMessage('LICENSING', 1)],
      ['create a consumer', (jsm) => jsm.consumers.add('LICENSING', { durable_name: 'evil' })],
      ['delete a consumer', (jsm) => jsm.consumers.delete('PAIRING', 'licensing')],
    ];
    const cases = [...SERVICES, 'bus-reader' as const].flatMap((user) => admin.map(([what, op]) => [user, what, op] as const));

    it.each(cases)('%s may not %s', async (user, _what, operation) => {
      const jsm = await jetstreamManager(nc(user));
      expect(await refusal(() => operation(jsm))).toMatch(/Permissions Violation for Publish to "\$JS\.API\./);
    });

    it('the admin may (and the streams and durables are still there after the attempts above)', async () => {
      const jsm = await jetstreamManager(nc('bus-admin'));
      const streams: string[] = [];
      for await (const name of jsm.streams.names()) streams.push(name);
      expect(streams.sort()).toEqual(['DEAD_LETTER', 'LICENSING', 'PAIRING', 'SYNC_AGENT']);
      expect((await jsm.consumers.info('PAIRING', 'licensing')).name).toBe('licensing');
    });
  });

  describe('the read-only user', () => {
    it('subscribes to events and reads them from the streams, but publishes nothing', async () => {
      const sub = nc('bus-reader').subscribe('licensing.>', { max: 1 });
      await nc('bus-reader').flush();
      const received = (async () => {
        for await (const m of sub) return m.subject;
        return 'no message';
      })();
      const ack = await js('licensing').publish(subjectOf('licensing'), '{"n":2}');
      expect(await received).toBe(subjectOf('licensing'));
      const stored = await (await jetstreamManager(nc('bus-reader'))).streams.getMessage('LICENSING', { seq: ack.seq });
      expect(stored?.string()).toBe('{"n":2}');
      for (const source of SERVICES)
        expect(await refusal(() => js('bus-reader').publish(subjectOf(source), '{}', { timeout: 3_000 }))).toMatch(
          /Permissions Violation for Publish/,
        );
    });
  });

  describe('without credentials', () => {
    it.each([
      ['no user', {}],
      ['a wrong password', { user: 'licensing', pass: 'guess' }],
    ])('a client with %s is refused', async (_, auth) => {
      expect(await refusal(() => connect({ servers: bus.url, ...auth, reconnect: false }))).toMatch(/Authorization Violation/i);
    });
  });
});

describe('bus TLS', () => {
  let bus: SecureNatsServer;
  beforeAll(async () => {
    bus = await startSecureNatsServer({ tls: true });
  });
  afterAll(() => bus?.dispose());

  it('a service that trusts the CA connects and uses JetStream (NATS_TLS_CA_FILE)', async () => {
    const nc = await connectNats(
      {
        servers: [bus.url],
        user: 'licensing',
        password: bus.passwords.licensing,
        inboxPrefix: '_INBOX_licensing',
        tls: { caFile: bus.certificates!.caFile },
      },
      'tls-int',
      AbortSignal.timeout(10_000),
    );
    try {
      expect(nc.info?.tls_required).toBe(true);
      const jsm = await jetstreamManager(nc); // a JetStream API request and its reply, over TLS
      expect((await jsm.getAccountInfo()).streams).toBe(0);
    } finally {
      await nc.close();
    }
  });

  it.each([
    ['does not trust the CA', { tls: {} }],
    ['does not use TLS at all', {}],
  ])('a client that %s is refused, even with the right password', async (_, tls) => {
    const message = await refusal(() =>
      connect({ servers: bus.url, user: 'licensing', pass: bus.passwords.licensing, reconnect: false, timeout: 5_000, ...tls }),
    );
    expect(message).toMatch(/certificate|self.signed|tls|secure/i);
  });
});
