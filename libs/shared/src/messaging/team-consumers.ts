import { AckPolicy, DeliverPolicy, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { BusNames, EventSource } from '../contracts/index.js';
import { EVENT_SOURCES } from '../event-signing/event-key-ring.js';

/**
 * Durable access for other teams: an operator (with the bus-admin user) gives a team its own durable pull consumer
 * on each event stream it may read, and a bus user that can pull and acknowledge only those consumers and read only
 * its own inbox. What the team may not do is what nats-server refuses, so nothing here trusts the team's client.
 *
 * - The consumer is `team-<team>` on each granted stream: pull, explicit ack, no delivery limit (the team terminates
 *   what it cannot process), one subject filter at most (nats-server 2.9 has no filter_subjects).
 * - The user is `team-<team>` with the password from the nats-server's environment variable
 *   `TEAM_<TEAM>_NATS_PASSWORD`; it may publish only the consumer's INFO and MSG.NEXT requests and acks of its
 *   messages, and subscribe only to `_INBOX_team-<team>.>` (its client's inbox prefix). It can create, update or
 *   delete no consumer or stream, read no other consumer, and see no other inbox.
 */

/** A team name: lower-case letters, digits and `-`, as it appears in the consumer's and user's names. */
export const TEAM_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** What an operator grants: a team, the streams it may read, and optionally one subject filter per stream. */
export interface TeamConsumerGrant {
  readonly team: string;
  readonly sources: readonly EventSource[];
  /** One subject filter (e.g. `sync-agent.v1.effective-licenses-changed.*`); default the whole stream. */
  readonly filterSubject?: string;
  /** Where a new consumer starts: the stream's first message (default) or only messages published from now on. */
  readonly deliver?: 'all' | 'new';
}

/** The durable consumer's name and the bus user's name of a team. */
export function teamConsumerName(team: string): string {
  if (!TEAM_NAME.test(team)) throw new Error(`team "${team}" must be 1-32 characters a-z, 0-9 and "-", starting with a letter`);
  return `team-${team}`;
}

/** The variable the nats-server reads the team user's password from. */
export function teamPasswordVariable(team: string): string {
  return `${teamConsumerName(team).toUpperCase().replaceAll('-', '_')}_NATS_PASSWORD`;
}

/** The inbox prefix the team's client must connect with (its user may read only these subjects). */
export function teamInboxPrefix(team: string): string {
  return `_INBOX_${teamConsumerName(team)}`;
}

/** The consumer settings of a team's durable (pull, explicit ack). */
export const TEAM_CONSUMER_DEFAULTS = { ackWaitMs: 30_000, maxAckPending: 1_000 } as const;

/**
 * Creates the team's durable on each granted stream, or leaves an existing one as it is (the team's position is
 * kept); returns each consumer's info. Needs the admin's bus user.
 */
export async function grantTeamConsumer(
  jsm: JetStreamManager,
  names: BusNames,
  grant: TeamConsumerGrant,
): Promise<ConsumerInfo[]> {
  const durable = teamConsumerName(grant.team);
  const infos: ConsumerInfo[] = [];
  for (const source of grant.sources) {
    const stream = names.stream(source);
    if (grant.filterSubject !== undefined && !subjectWithin(grant.filterSubject, names.allSubjects(source)))
      throw new Error(`the filter ${grant.filterSubject} is not within ${stream}'s subjects ${names.allSubjects(source)}`);
    try {
      infos.push(await jsm.consumers.info(stream, durable));
      continue;
    } catch (error) {
      if (!/consumer not found/i.test((error as Error).message)) throw error;
    }
    infos.push(
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: grant.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
        ack_wait: nanos(TEAM_CONSUMER_DEFAULTS.ackWaitMs),
        max_deliver: -1,
        max_ack_pending: TEAM_CONSUMER_DEFAULTS.maxAckPending,
        ...(grant.filterSubject !== undefined ? { filter_subject: grant.filterSubject } : {}),
      }),
    );
  }
  return infos;
}

/** Deletes the team's durable on each stream (the team user's permissions then allow nothing). */
export async function revokeTeamConsumer(
  jsm: JetStreamManager,
  names: BusNames,
  team: string,
  sources: readonly EventSource[],
): Promise<void> {
  for (const source of sources) {
    try {
      await jsm.consumers.delete(names.stream(source), teamConsumerName(team));
    } catch (error) {
      if (!/consumer not found/i.test((error as Error).message)) throw error;
    }
  }
}

/**
 * The nats-server user entry of a team, for the `users` list of deploy/nats/permissions.conf: pull (MSG.NEXT),
 * consumer info and acks of its durables on the granted streams, its own inbox, nothing else.
 */
export function teamUserEntry(names: BusNames, team: string, sources: readonly EventSource[]): string {
  const durable = teamConsumerName(team);
  const streams = [...sources].sort((a, b) => EVENT_SOURCES.indexOf(a) - EVENT_SOURCES.indexOf(b)).map((s) => names.stream(s));
  const publish = streams.flatMap((stream) => [
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
  ]);
  const quoted = (subjects: readonly string[]) => subjects.map((s) => `            "${s}"`).join('\n');
  return [
    `    # ${BEGIN}${durable}: durable ${durable} on ${streams.join(', ')} (npm run bus -- grant-consumer)`,
    '    {',
    `      user: ${durable}`,
    `      password: $${teamPasswordVariable(team)}`,
    '      permissions: {',
    '        publish: {',
    '          allow: [',
    quoted(publish),
    '          ]',
    '        }',
    `        subscribe: { allow: ["${teamInboxPrefix(team)}.>"] }`,
    '      }',
    '    }',
    `    # ${END}${durable}`,
  ].join('\n');
}

const BEGIN = 'begin ';
const END = 'end ';
/** The line of deploy/nats/permissions.conf before which team users are added. */
export const TEAM_USERS_MARKER = '# Team users (npm run bus -- grant-consumer) are added above this line.';

/**
 * `conf` (the text of permissions.conf) with the team's user entry added before TEAM_USERS_MARKER, or replacing the
 * team's earlier entry (so a later grant of more streams widens the same user).
 */
export function withTeamUser(conf: string, entry: string): string {
  const name = /# begin (\S+):/.exec(entry)?.[1];
  if (!name) throw new Error('not a team user entry');
  const existing = new RegExp(`^ *# ${BEGIN}${escape(name)}:[^\\n]*\\n[\\s\\S]*?^ *# ${END}${escape(name)}\\n`, 'm');
  if (existing.test(conf)) return conf.replace(existing, () => `${entry}\n`);
  const marker = new RegExp(`^( *)${escape(TEAM_USERS_MARKER)}$`, 'm');
  if (!marker.test(conf)) throw new Error(`the permissions file has no line "${TEAM_USERS_MARKER}" inside its users list`);
  return conf.replace(marker, (line) => `${entry}\n${line}`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether `filter` selects only subjects that `within` (a `<prefix>.>` wildcard) selects. */
function subjectWithin(filter: string, within: string): boolean {
  return within.endsWith('.>') && filter.startsWith(within.slice(0, -1)) && filter.length > within.length - 1;
}
