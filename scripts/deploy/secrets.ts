/**
 * The secrets a deployment needs and how they are laid out, shared by the compose `init` step (init.ts) and
 * `npm start` (scripts/dev): bus users' passwords, the PostgreSQL password, the bootstrap operator key, each
 * producing service's Ed25519 event-signing key and the sync agent's license-signing key.
 *
 * What is generated is never overwritten: a file that exists is kept, so running the init step again changes
 * nothing but copies that have drifted from their source (a public key, a password handed to a service).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeKeyFileError, generateApiKey } from '#shared/tools';

import { BUS_PASSWORD_VARIABLES, BUS_USERS, busPassword, type BusUser } from '#shared/tools';

export { BUS_PASSWORD_VARIABLES, BUS_USERS, busPassword, busPasswordEnvironment, type BusUser } from '#shared/tools';

/** The producing services, each with its own event-signing key (EVENT_KEYS_DIR/<source>/<kid>.pem). */
export const APP_SERVICES = ['pairing', 'licensing', 'sync-agent'] as const;
export type AppService = (typeof APP_SERVICES)[number];

/** Each bus user's password: the one the env file `file` holds (an existing password is never replaced), else a new one. */
export function busPasswordsKeptIn(file: string): Record<BusUser, string> {
  const known = parseEnvFile(readSecret(file) ?? '');
  return Object.fromEntries(BUS_USERS.map((user) => [user, known[BUS_PASSWORD_VARIABLES[user]] || busPassword()])) as Record<
    BusUser,
    string
  >;
}

/** A password for PostgreSQL: 32 random bytes, base64url (no character that needs quoting anywhere). */
export function databasePassword(): string {
  return randomBytes(32).toString('base64url');
}

/** A fresh bootstrap operator API key, as `npm run api-keys -- generate` makes. */
export const operatorApiKey = generateApiKey;

/** Owner and modes for what is written: `uid` and `gid` are applied only when this process runs as root. */
export interface FileOwner {
  readonly uid: number;
  readonly gid: number;
}

/** A new Ed25519 private key as PKCS#8 PEM. */
export function newPrivateKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The SPKI PEM of the public half of a PEM key file's content (private or public). */
export function publicKeyPem(pem: string): string {
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  return key.export({ format: 'pem', type: 'spki' }).toString();
}

export function isPrivateKeyPem(pem: string): boolean {
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem);
}

/** A key id that sorts after every earlier one (the key rings sign with the last private key by default). */
export function timestampKid(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

const isRoot = () => process.getuid?.() === 0;

/** Creates `dir` (and its parents) with `mode`, owned by `owner` when we are root; an existing one gets both too. */
export function ensureDirectory(dir: string, mode: number, owner?: FileOwner): void {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
  if (owner && isRoot()) chownSync(dir, owner.uid, owner.gid);
}

/** Reads a secret file, trimmed; null if it does not exist. Any other failure names the file (e.g. permission denied). */
export function readSecret(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(describeKeyFileError(path, error), { cause: error });
  }
}

/**
 * Writes `content` to `path` if it does not exist (never overwrites a secret); returns whether it wrote.
 * The file is written whole under a temporary name and renamed, so no reader sees half a secret.
 */
export function createSecret(path: string, content: string, mode: number, owner?: FileOwner): boolean {
  if (readSecret(path) !== null) {
    applyOwnership(path, mode, owner);
    return false;
  }
  writeAtomically(path, content, mode, owner);
  return true;
}

/**
 * Makes `path` hold `content` (a copy derived from a source: a public key, a password handed to one service);
 * returns what it did: `created`, `updated`, or false when the file held it already. Mode and owner are set either way.
 */
export function syncCopy(path: string, content: string, mode: number, owner?: FileOwner): 'created' | 'updated' | false {
  let current: string | null = null;
  try {
    current = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(describeKeyFileError(path, error), { cause: error });
  }
  if (current === content) {
    applyOwnership(path, mode, owner);
    return false;
  }
  writeAtomically(path, content, mode, owner);
  return current === null ? 'created' : 'updated';
}

function writeAtomically(path: string, content: string, mode: number, owner?: FileOwner): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode, flag: 'wx' });
  try {
    applyOwnership(temporary, mode, owner);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

function applyOwnership(path: string, mode: number, owner?: FileOwner): void {
  chmodSync(path, mode);
  if (owner && isRoot()) chownSync(path, owner.uid, owner.gid);
}

/** `*.pem` names in `dir`, sorted; none if it does not exist. */
export function pemNames(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith('.pem'))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(describeKeyFileError(dir, error), { cause: error });
  }
}

/** Whether `path` exists (a directory or a file). */
export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `KEY=value` lines, as a shell's `.` and an env file read them (the values are letters only). */
export function envFile(values: Readonly<Record<string, string>>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}=${value}\n`)
    .join('');
}

/** Parses what envFile wrote (and simple `KEY=value` files): comments and blank lines are skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) values[match[1]!] = match[2]!.trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return values;
}
