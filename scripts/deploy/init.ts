/**
 * The compose `init` step: creates whatever keys and secrets are missing, each into the volume of the one
 * container that needs it, then exits. Never overwrites what exists; copies derived from a source (a public key,
 * a password handed to a service) are brought up to date. Run as root (it sets owners); the services read their
 * files as the image's `node` user (SECRETS_OWNER, default 1000:1000).
 *
 *   node dist/scripts/deploy/init.js [ensure]              create what is missing (the default)
 *   node dist/scripts/deploy/init.js show-operator-key     print the bootstrap operator API key
 *   node dist/scripts/deploy/init.js rotate-event-key <service>
 *   node dist/scripts/deploy/init.js retire-event-key <service> <kid>
 *   node dist/scripts/deploy/init.js rotate-license-key
 *   node dist/scripts/deploy/init.js retire-license-key <kid>
 *   node dist/scripts/deploy/init.js rotate-secret <bus-password:<user>|postgres-password|operator-api-key>
 *
 * SECRETS_DIR (default /secrets) holds one directory per volume (see `secretsLayout`). Exit 0 done, 1 failed,
 * 2 usage error.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { addKey, ensureSecrets, FILE, retireKey, ROOT_OWNER, secretsLayout, type SecretsLayout } from './init-secrets.js';
import {
  APP_SERVICES,
  BUS_PASSWORD_VARIABLES,
  BUS_USERS,
  busPassword,
  databasePassword,
  envFile,
  operatorApiKey,
  parseEnvFile,
  readSecret,
  syncCopy,
  type AppService,
  type BusUser,
  type FileOwner,
} from './secrets.js';

function parseOwner(text: string): FileOwner {
  const match = /^(\d+):(\d+)$/.exec(text);
  if (!match) throw new Error(`SECRETS_OWNER must be <uid>:<gid>, got ${JSON.stringify(text)}`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}

const USAGE = `usage: init.js [ensure]
       init.js show-operator-key
       init.js rotate-event-key <${APP_SERVICES.join('|')}>
       init.js retire-event-key <${APP_SERVICES.join('|')}> <kid>
       init.js rotate-license-key
       init.js retire-license-key <kid>
       init.js rotate-secret <bus-password:<${BUS_USERS.join('|')}>|postgres-password|operator-api-key>`;

function main(argv: readonly string[]): number {
  const root = process.env.SECRETS_DIR || '/secrets';
  const owner = parseOwner(process.env.SECRETS_OWNER || '1000:1000');
  const layout = secretsLayout(root);
  const log = (line: string) => console.log(`[init] ${line}`);
  const [command = 'ensure', ...args] = argv;
  const service = (name: string | undefined): AppService => {
    if (!APP_SERVICES.includes(name as AppService)) throw new UsageError(`unknown service ${JSON.stringify(name)}`);
    return name as AppService;
  };
  const ensure = () => {
    const report = ensureSecrets(layout, owner, new Date());
    for (const path of report.created) log(`created ${path}`);
    for (const path of report.updated) log(`updated ${path}`);
    for (const path of report.removed) log(`removed ${path} (its owner no longer has it)`);
    if (report.created.length + report.updated.length + report.removed.length === 0) log('every key and secret exists already');
    log(
      `the bootstrap operator API key is ${layout.init.operatorKey} in the init-secrets volume: ` +
        '`docker compose run --rm init show-operator-key` prints it',
    );
    if (process.getuid?.() !== 0) log(`not running as root: owners left as they are (wanted ${owner.uid}:${owner.gid})`);
  };
  switch (command) {
    case 'ensure':
      ensure();
      return 0;
    case 'show-operator-key': {
      const key = readSecret(layout.init.operatorKey);
      if (key === null) throw new Error(`${layout.init.operatorKey} does not exist: run the init step first`);
      console.log(key);
      return 0;
    }
    case 'rotate-event-key': {
      const name = service(args[0]);
      const kid = addKey(join(layout.services[name].eventKeys, name), owner, new Date());
      log(`added ${name}/${kid}; restart the other services first (they learn its public key), then ${name}`);
      ensure();
      return 0;
    }
    case 'retire-event-key': {
      const name = service(args[0]);
      if (!args[1]) throw new UsageError('retire-event-key needs a kid');
      retireKey(join(layout.services[name].eventKeys, name), args[1], owner);
      log(`${name}/${args[1]} is public only now: it verifies the events it signed and signs no more`);
      ensure();
      return 0;
    }
    case 'rotate-license-key': {
      const kid = addKey(layout.licenseKeys, owner, new Date());
      log(`added license-signing key ${kid}; restart sync-agent to sign with it (the old one stays published)`);
      ensure();
      return 0;
    }
    case 'retire-license-key': {
      if (!args[0]) throw new UsageError('retire-license-key needs a kid');
      retireKey(layout.licenseKeys, args[0], owner);
      log(`license-signing key ${args[0]} is public only now; restart sync-agent`);
      ensure();
      return 0;
    }
    case 'rotate-secret': {
      rotateSecret(layout, args[0]);
      ensure();
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/** Replaces one original secret with a fresh one (the copies follow in the ensure run after it). */
function rotateSecret(layout: SecretsLayout, what: string | undefined): void {
  const log = (line: string) => console.log(`[init] ${line}`);
  if (what === 'postgres-password' || what === 'operator-api-key') {
    const path = what === 'postgres-password' ? layout.init.postgresPassword : layout.init.operatorKey;
    syncCopy(path, `${what === 'postgres-password' ? databasePassword() : operatorApiKey()}\n`, FILE, ROOT_OWNER);
    log(
      what === 'postgres-password'
        ? 'new PostgreSQL password written; PostgreSQL keeps its old one until you set it (see the deployment guide), then restart the services'
        : 'new operator key written; restart pairing, licensing and sync-agent',
    );
    return;
  }
  const user = /^bus-password:(.+)$/.exec(what ?? '')?.[1];
  if (!user || !BUS_USERS.includes(user as BusUser)) throw new UsageError(`unknown secret ${JSON.stringify(what)}`);
  const values = parseEnvFile(readSecret(layout.init.busPasswords) ?? '');
  values[BUS_PASSWORD_VARIABLES[user as BusUser]] = busPassword();
  syncCopy(layout.init.busPasswords, envFile(values), FILE, ROOT_OWNER);
  log(`new password for bus user ${user}; restart nats, then the services`);
}

class UsageError extends Error {}

// Run as a command, not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`init: ${error.message}\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(`init: failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  }
}
