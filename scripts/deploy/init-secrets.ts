/**
 * What the compose `init` step (init.ts) creates, and where: one directory per volume under a root, each holding
 * only what its container needs. Also used by the deployment check (scripts/deploy/check.ts) and the tests.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  APP_SERVICES,
  busPasswordEnvironment,
  busPasswordsKeptIn,
  createSecret,
  databasePassword,
  ensureDirectory,
  envFile,
  isPrivateKeyPem,
  newPrivateKeyPem,
  operatorApiKey,
  pemNames,
  publicKeyPem,
  readSecret,
  syncCopy,
  timestampKid,
  type AppService,
  type FileOwner,
} from './secrets.js';

/** Where each volume is mounted in the init container, under SECRETS_DIR, and what goes in it. */
export function secretsLayout(root: string) {
  const service = (name: AppService) => ({
    dir: join(root, name),
    natsPassword: join(root, name, 'nats-password'),
    postgresPassword: join(root, name, 'postgres-password'),
    operatorKey: join(root, name, 'operator-api-key'),
    /** EVENT_KEYS_DIR: <source>/<kid>.pem, private for its own source, public for the others. */
    eventKeys: join(root, name, 'event-keys'),
  });
  return {
    /** The originals of the shared secrets; mounted by the init step only. */
    init: {
      dir: join(root, 'init'),
      busPasswords: join(root, 'init', 'bus-passwords.env'),
      postgresPassword: join(root, 'init', 'postgres-password'),
      operatorKey: join(root, 'init', 'operator-api-key'),
    },
    /** nats-server's: every bus user's password, sourced into its environment (permissions.conf reads $VARIABLES). */
    nats: { dir: join(root, 'nats'), busPasswords: join(root, 'nats', 'bus-passwords.env') },
    /** PostgreSQL's: POSTGRES_PASSWORD_FILE. */
    postgres: { dir: join(root, 'postgres'), password: join(root, 'postgres', 'postgres-password') },
    /** The bus-setup step's: the bus-admin password. */
    busSetup: { dir: join(root, 'bus-setup'), natsPassword: join(root, 'bus-setup', 'nats-password') },
    services: Object.fromEntries(APP_SERVICES.map((name) => [name, service(name)])) as Record<
      AppService,
      ReturnType<typeof service>
    >,
    /** The sync agent's LICENSE_SIGNING_KEYS_DIR. */
    licenseKeys: join(root, 'sync-agent', 'license-signing-keys'),
  };
}
export type SecretsLayout = ReturnType<typeof secretsLayout>;

export const ROOT_OWNER: FileOwner = { uid: 0, gid: 0 };
const DIRECTORY = 0o700;
export const FILE = 0o600;

/** What an ensure run did, for its log. */
export interface InitReport {
  readonly created: string[];
  readonly updated: string[];
  readonly removed: string[];
}

/** Creates what is missing and brings every derived copy up to date. */
export function ensureSecrets(layout: SecretsLayout, owner: FileOwner, now: Date): InitReport {
  const report: InitReport = { created: [], updated: [], removed: [] };
  const create = (path: string, make: () => string, by: FileOwner) => {
    if (createSecret(path, `${make()}\n`, FILE, by)) report.created.push(path);
  };
  const copy = (path: string, content: string, by: FileOwner) => {
    const done = syncCopy(path, content, FILE, by);
    if (done) report[done].push(path);
  };

  // The originals.
  ensureDirectory(layout.init.dir, DIRECTORY, ROOT_OWNER);
  const passwords = busPasswordsKeptIn(layout.init.busPasswords);
  const passwordFile = envFile(busPasswordEnvironment(passwords));
  // Only missing users are added: an existing password is never replaced.
  copy(layout.init.busPasswords, passwordFile, ROOT_OWNER);
  create(layout.init.postgresPassword, databasePassword, ROOT_OWNER);
  create(layout.init.operatorKey, operatorApiKey, ROOT_OWNER);
  const postgresPassword = `${readSecret(layout.init.postgresPassword)!}\n`;
  const operatorKey = `${readSecret(layout.init.operatorKey)!}\n`;

  // What each container gets: nats-server and PostgreSQL run as root in their images.
  ensureDirectory(layout.nats.dir, DIRECTORY, ROOT_OWNER);
  copy(layout.nats.busPasswords, passwordFile, ROOT_OWNER);
  ensureDirectory(layout.postgres.dir, DIRECTORY, ROOT_OWNER);
  copy(layout.postgres.password, postgresPassword, ROOT_OWNER);
  ensureDirectory(layout.busSetup.dir, DIRECTORY, owner);
  copy(layout.busSetup.natsPassword, `${passwords['bus-admin']}\n`, owner);
  for (const name of APP_SERVICES) {
    const s = layout.services[name];
    ensureDirectory(s.dir, DIRECTORY, owner);
    copy(s.natsPassword, `${passwords[name]}\n`, owner);
    copy(s.postgresPassword, postgresPassword, owner);
    copy(s.operatorKey, operatorKey, owner);
    ensureDirectory(s.eventKeys, DIRECTORY, owner);
    for (const source of APP_SERVICES) ensureDirectory(join(s.eventKeys, source), DIRECTORY, owner);
    const own = join(s.eventKeys, name);
    if (!hasPrivateKey(own)) create(join(own, `${timestampKid(now)}.pem`), () => newPrivateKeyPem().trim(), owner);
  }
  ensureDirectory(layout.licenseKeys, DIRECTORY, owner);
  if (!hasPrivateKey(layout.licenseKeys))
    create(join(layout.licenseKeys, `${timestampKid(now)}.pem`), () => newPrivateKeyPem().trim(), owner);

  // Every service's keys, public halves only, to every other service; keys its owner no longer has are removed.
  for (const source of APP_SERVICES) {
    const ownDir = join(layout.services[source].eventKeys, source);
    const names = pemNames(ownDir);
    for (const other of APP_SERVICES.filter((o) => o !== source)) {
      const target = join(layout.services[other].eventKeys, source);
      for (const name of names) copy(join(target, name), publicKeyPem(readFileSync(join(ownDir, name), 'utf8')), owner);
      for (const stale of pemNames(target).filter((n) => !names.includes(n))) {
        rmSync(join(target, stale));
        report.removed.push(join(target, stale));
      }
    }
  }
  return report;
}

function hasPrivateKey(dir: string): boolean {
  return pemNames(dir).some((name) => isPrivateKeyPem(readFileSync(join(dir, name), 'utf8')));
}

/** Adds a new private key named after `now` to `dir` (it sorts last, so it signs from the next start). */
export function addKey(dir: string, owner: FileOwner, now: Date): string {
  const kid = timestampKid(now);
  if (!createSecret(join(dir, `${kid}.pem`), `${newPrivateKeyPem().trim()}\n`, FILE, owner))
    throw new Error(`${join(dir, `${kid}.pem`)} exists already; try again in a second`);
  return kid;
}

/** Replaces a private key by its public half: it verifies what it signed, and signs nothing more. */
export function retireKey(dir: string, kid: string, owner: FileOwner): void {
  const path = join(dir, `${kid}.pem`);
  const pem = readSecret(path);
  if (pem === null) throw new Error(`${path} does not exist (keys: ${pemNames(dir).join(', ') || 'none'})`);
  if (!isPrivateKeyPem(pem)) throw new Error(`${path} is already public only`);
  const others = pemNames(dir).filter((n) => n !== `${kid}.pem` && isPrivateKeyPem(readSecret(join(dir, n)) ?? ''));
  if (others.length === 0) throw new Error(`${kid} is the only private key in ${dir}: rotate first, then retire it`);
  syncCopy(path, publicKeyPem(pem), FILE, owner);
}
