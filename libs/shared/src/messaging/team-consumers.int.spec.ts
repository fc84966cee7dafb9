/**
 * A team's durable consumer (npm run bus -- grant-consumer) on a nats-server of this file's own running the
 * deployment's permissions (deploy/nats/permissions.conf) with the team's user added exactly as the command adds
 * it: the team pulls and acknowledges its own durable and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { busNames } from '../contracts/index.js';
import { busPassword, PERMISSIONS_CONF, startSecureNatsServer, type SecureNatsServer } from '../testing/index.js';
import { setupBus } from './bus-setup.js';
import { connectNats } from './nats-connection.js';
import {
  TEAM_USERS_MARKER,
  grantTeamConsumer,
  teamConsumerName,
  teamInboxPrefix,
  teamPasswordVariable,
  teamUserEntry,
  withTeamUser,
} from './team-consumers.js';

const names = busNames(''); // the permissions are written for the production (empty) namespace
const TEAM = 'billing';
const DURABLE = teamConsumerName(TEAM);
const PASSWORD = busPassword(24);
const SUBJECT = 'sync-agent.v1.effective-licenses-changed.0123456789AB';

async function refusal(operation: () => Promise<unknown>): Promise<string> {
  try {
    await operation();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the operation was allowed');
}

async function subscriptionRefusal(nc: NatsConnection, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  const ended = (async () => {
    for await (const _ of sub) return 'a message arrived';
    return 'closed without error';
  })();
  return ended.catch((error: Error) => error.message);
}

describe('withTeamUser and teamUserEntry', () => {
  const conf = readFileSync(PERMISSIONS_CONF, 'utf8');

  it('adds the team user inside the users list of the deployed file, before the marker', () => {
    const edited = withTeamUser(conf, teamUserEntry(names, TEAM, ['sync-agent']));
    expect(edited.indexOf(`user: ${DURABLE}`)).toBeLessThan(edited.indexOf(TEAM_USERS_MARKER));
    expect(edited.indexOf(`user: ${DURABLE}`)).toBeGreaterThan(edited.indexOf('user: bus-reader'));
    expect(edited).toContain(`password: $${teamPasswordVariable(TEAM)}`);
    expect(teamPasswordVariable(TEAM)).toBe('TEAM_BILLING_NATS_PASSWORD');
  });

  it('replaces the team’s earlier entry when it is granted again, so one user covers every stream granted', () => {
    const once = withTeamUser(conf, teamUserEntry(names, TEAM, ['sync-agent']));
    const twice = withTeamUser(once, teamUserEntry(names, TEAM, ['licensing', 'sync-agent']));
    expect(twice.match(new RegExp(`user: ${DURABLE}\\n`, 'g'))).toHaveLength(1);
    expect(twice).toContain(`$JS.API.CONSUMER.MSG.NEXT.LICENSING.${DURABLE}`);
    expect(withTeamUser(twice, teamUserEntry(names, TEAM, ['licensing', 'sync-agent']))).toBe(twice);
    expect(withTeamUser(twice, teamUserEntry(names, 'audit', ['pairing']))).toContain('user: team-audit');
  });

  it('refuses a team name that is not a subject token', () => {
    expect(() => teamConsumerName('Billing team')).toThrow(/a-z, 0-9/);
  });
});

describe('a team’s durable consumer on the deployed permissions', () => {
  let bus: SecureNatsServer;
  let admin: NatsConnection;
  let producer: NatsConnection;
  let team: NatsConnection;
  let teamJs: JetStreamClient;

  beforeAll(async () => {
    bus = await startSecureNatsServer({
      permissions: (conf) => withTeamUser(conf, teamUserEntry(names, TEAM, ['sync-agent'])),
      env: { [teamPasswordVariable(TEAM)]: PASSWORD },
    });
    const settings = (user: string, password: string) => ({
      servers: [bus.url],
      user,
      password,
      inboxPrefix: user === DURABLE ? teamInboxPrefix(TEAM) : `_INBOX_${user}`,
    });
    admin = await connectNats(settings('bus-admin', bus.passwords['bus-admin']), 'team-int-admin');
    producer = await connectNats(settings('sync-agent', bus.passwords['sync-agent']), 'team-int-producer');
    await setupBus(await jetstreamManager(admin), names, []);
    const [info] = await grantTeamConsumer(await jetstreamManager(admin), names, { team: TEAM, sources: ['sync-agent'] });
    expect(info).toMatchObject({ name: DURABLE, stream_name: 'SYNC_AGENT', config: { ack_policy: 'explicit' } });
    for (const n of [1, 2, 3]) await jetstream(producer).publish(SUBJECT, JSON.stringify({ n }));
    team = await connectNats(settings(DURABLE, PASSWORD), 'team-int-billing');
    teamJs = jetstream(team);
  });

  afterAll(async () => {
    for (const nc of [team, producer, admin]) await nc?.close().catch(() => undefined);
    await bus?.dispose();
  });

  it('pulls and acknowledges its messages, and its position survives a reconnect (durable)', async () => {
    const consumer = await teamJs.consumers.get('SYNC_AGENT', DURABLE);
    const first = await consumer.next({ expires: 5_000 });
    expect(first?.json()).toEqual({ n: 1 });
    await first!.ackAck();
    await team.close();
    team = await connectNats(
      { servers: [bus.url], user: DURABLE, password: PASSWORD, inboxPrefix: teamInboxPrefix(TEAM) },
      'team-int-billing-again',
    );
    teamJs = jetstream(team);
    const again = await teamJs.consumers.get('SYNC_AGENT', DURABLE);
    const batch = await again.fetch({ max_messages: 2, expires: 5_000 });
    const seen: unknown[] = [];
    for await (const m of batch) {
      seen.push(m.json());
      m.ack();
    }
    expect(seen).toEqual([{ n: 2 }, { n: 3 }]);
    await team.flush();
    expect((await again.info()).num_ack_pending).toBe(0);
  });

  it('a second grant keeps the consumer and its position', async () => {
    const [info] = await grantTeamConsumer(await jetstreamManager(admin), names, { team: TEAM, sources: ['sync-agent'] });
    expect(info!.delivered.stream_seq).toBe(3);
  });

  /** The team's manager, without the account-info check its user may not make, so each operation is what is refused. */
  const manager = () => jetstreamManager(team, { checkAPI: false });
  it.each([
    [
      'create its own durable',
      () => manager().then((jsm) => jsm.consumers.add('SYNC_AGENT', { durable_name: 'mine' })),
      'CONSUMER.CREATE',
    ],
    [
      'use an ordered consumer (which creates one)',
      () => teamJs.consumers.get('SYNC_AGENT').then((c) => c.next({ expires: 2_000 })),
      'STREAM.INFO.SYNC_AGENT' /* where it starts, before it would create one */,
    ],
    ['delete its consumer', () => manager().then((jsm) => jsm.consumers.delete('SYNC_AGENT', DURABLE)), 'CONSUMER.DELETE'],
    [
      'read the stream directly',
      () => manager().then((jsm) => jsm.streams.getMessage('SYNC_AGENT', { seq: 1 })),
      'STREAM.MSG.GET',
    ],
    ['read the stream’s info', () => manager().then((jsm) => jsm.streams.info('SYNC_AGENT')), 'STREAM.INFO'],
    [
      'pull from a service’s durable',
      () => teamJs.consumers.get('PAIRING', 'sync-agent').then((c) => c.next({ expires: 2_000 })),
      'CONSUMER.INFO.PAIRING',
    ],
    ['publish an event', () => teamJs.publish(SUBJECT, '{}', { timeout: 3_000 }), SUBJECT],
  ])('may not %s', async (_, operation, refused) => {
    const message = await refusal(operation);
    expect(message).toMatch(/Permissions Violation for Publish/);
    expect(message).toContain(refused);
  });

  it.each([
    ['the events themselves', 'sync-agent.>'],
    ['another user’s inbox', '_INBOX_bus-reader.>'],
    ['everything', '>'],
  ])('may not subscribe to %s', async (_, subject) => {
    expect(await subscriptionRefusal(team, subject)).toMatch(/Permissions Violation for Subscription/);
  });
});
