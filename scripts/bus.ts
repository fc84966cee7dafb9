/**
 * `npm run bus -- <command>`: bus administration, with the admin bus user in NATS_USER / NATS_PASSWORD (and the same
 * NATS_URL, NATS_TLS_*, BUS_NAMESPACE as the services), after a build.
 *
 *   grant-consumer --team <team> --stream <STREAM> [--stream …] [--filter <subject>] [--from all|new] [--permissions-file <file>]
 *       creates the team's durable pull consumer `team-<team>` on each stream (explicit ack; an existing one keeps its
 *       position) and prints the nats-server user entry of `team-<team>` (pull and ack those consumers, its own
 *       inbox); with --permissions-file, also writes it into that file (deploy/nats/permissions.conf), replacing the
 *       team's earlier entry. Reload nats-server (`nats-server --signal reload`, or restart it) with
 *       TEAM_<TEAM>_NATS_PASSWORD in its environment.
 *   revoke-consumer --team <team> --stream <STREAM> [--stream …]
 *       deletes the team's durables (remove its user entry from the permissions file yourself).
 *
 * Exit 0 done; 1 refused or failed; 2 usage error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  EVENT_SOURCES,
  busNames,
  configOrExit,
  connectNats,
  grantTeamConsumer,
  revokeTeamConsumer,
  teamConsumerName,
  teamInboxPrefix,
  teamPasswordVariable,
  teamUserEntry,
  withTeamUser,
  type EventSource,
} from '#shared';

const USAGE = `usage: npm run bus -- grant-consumer --team <team> --stream <STREAM> [--stream <STREAM>…] [--filter <subject>] [--from all|new] [--permissions-file <file>]
       npm run bus -- revoke-consumer --team <team> --stream <STREAM> [--stream <STREAM>…]`;

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        team: { type: 'string' },
        stream: { type: 'string', multiple: true },
        filter: { type: 'string' },
        from: { type: 'string' },
        'permissions-file': { type: 'string' },
      },
    });
  } catch (error) {
    return usage((error as Error).message);
  }
})();
const command = positionals[0];
if (command !== 'grant-consumer' && command !== 'revoke-consumer') usage(`unknown command ${command ?? '(none)'}`);
if (!values.team) usage(`${command} needs --team`);
try {
  teamConsumerName(values.team);
} catch (error) {
  usage((error as Error).message);
}
if (!values.stream?.length)
  usage(`${command} needs --stream (one of ${EVENT_SOURCES.map((s) => busNames().stream(s)).join(', ')})`);
if (values.from !== undefined && values.from !== 'all' && values.from !== 'new') usage('--from is all or new');

const config = configOrExit({ service: 'bus', portVariable: 'BUS_PORT', defaultPort: 1, defaultDatabase: 'postgres' });
const names = busNames(config.busNamespace);
const sourceOf = new Map(EVENT_SOURCES.map((s) => [names.stream(s), s]));
const sources = values.stream.map(
  (stream): EventSource => sourceOf.get(stream) ?? usage(`${stream} is not an event stream of this namespace`),
);
const team = values.team;

const nc = await connectNats(config.nats, 'bus', AbortSignal.timeout(30_000));
try {
  const jsm = await jetstreamManager(nc);
  if (command === 'revoke-consumer') {
    await revokeTeamConsumer(jsm, names, team, sources);
    console.error(`[bus] deleted durable ${teamConsumerName(team)} on ${values.stream.join(', ')}`);
  } else {
    const infos = await grantTeamConsumer(jsm, names, {
      team,
      sources,
      ...(values.filter !== undefined ? { filterSubject: values.filter } : {}),
      ...(values.from !== undefined ? { deliver: values.from } : {}),
    });
    for (const info of infos)
      console.error(
        `[bus] durable ${info.name} on ${info.stream_name}: ${info.num_pending} messages pending` +
          (info.config.filter_subject ? `, filter ${info.config.filter_subject}` : ''),
      );
    const entry = teamUserEntry(names, team, sources);
    const file = values['permissions-file'];
    if (file !== undefined) {
      writeFileSync(file, withTeamUser(readFileSync(file, 'utf8'), entry));
      console.error(`[bus] wrote user ${teamConsumerName(team)} into ${file}`);
    }
    console.error(
      `[bus] the team connects as ${teamConsumerName(team)} (password: ${teamPasswordVariable(team)} in nats-server's environment) ` +
        `with inbox prefix ${teamInboxPrefix(team)}; its nats-server user entry:`,
    );
    console.log(entry);
  }
} catch (error) {
  console.error(`[bus] ${command} failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await nc.close();
}
