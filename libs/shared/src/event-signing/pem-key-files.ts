import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { linkSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Ed25519 keys kept as `<kid>.pem` files in a directory, shared by the license-document keys (sync agent) and
 * the event-signing keys (every producing service). A PKCS#8 private key signs; an SPKI public key only
 * verifies (a retired key whose private half was destroyed, or another service's key).
 */

/** A key id: the file name without `.pem`. */
export const PEM_KID = /^[A-Za-z0-9._-]{1,64}$/;
export const PEM_KID_RULE = '1-64 characters A-Z, a-z, 0-9, ".", "_" or "-"';

/** One key read from a file: the public half always, the private half unless the file holds only a public key. */
export interface PemKey {
  readonly kid: string;
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject | null;
}

/**
 * What went wrong reading `path`, for an operator: "permission denied" with the file's owner and mode and the
 * uid this process runs as (a key directory mounted from another user's files is the usual cause), else the
 * system's message. Never reports a key that cannot be read as missing.
 */
export function describeKeyFileError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    let owner = '';
    try {
      const stat = statSync(path);
      owner = `owner uid ${stat.uid}, mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}; `;
    } catch {
      // The parent directory may not be searchable either: say what we know.
    }
    const uid = process.getuid?.();
    return `${path}: permission denied (${owner}this process runs as uid ${uid ?? 'unknown'})`;
  }
  if (code === 'ENOENT') return `${path} does not exist`;
  return `${path}: ${(error as Error).message}`;
}

/**
 * Whether `dir` exists and is a directory: false only when it does not exist. A directory this process may not
 * look into, or a path that is not a directory, throws an Error naming the path.
 */
export function isKeyDirectory(dir: string): boolean {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new Error(describeKeyFileError(dir, error), { cause: error });
  }
  if (!isDirectory) throw new Error(`${dir} is not a directory`);
  return true;
}

/** `*.pem` file names, in kid order (UTF-16 code units, as `sort()` compares); a directory it cannot list throws. */
export function pemFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new Error(describeKeyFileError(dir, error), { cause: error });
  }
  return names.filter((name) => name.endsWith('.pem')).sort();
}

/**
 * Reads `<dir>/<file>` as an Ed25519 key; throws an Error whose message names the path and what is wrong
 * (callers wrap it in a ConfigurationError naming their variable). `purpose` ends the "not Ed25519" message.
 */
export function readPemKey(dir: string, file: string, purpose: string): PemKey {
  const kid = file.slice(0, -'.pem'.length);
  const path = join(dir, file);
  if (!PEM_KID.test(kid)) throw new Error(`${path}: the file name must be <kid>.pem, with a kid of ${PEM_KID_RULE}`);
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(describeKeyFileError(path, error), { cause: error });
  }
  let privateKey: KeyObject | null = null;
  let publicKey: KeyObject;
  try {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      privateKey = createPrivateKey(pem);
      publicKey = createPublicKey(privateKey);
    } else {
      publicKey = createPublicKey(pem);
    }
  } catch (error) {
    throw new Error(`${path} is not a PEM key: ${(error as Error).message}`, { cause: error });
  }
  if (publicKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${path} is a ${publicKey.asymmetricKeyType ?? 'symmetric'} key; ${purpose}`);
  return { kid, publicKey, privateKey };
}

/**
 * Writes `<dir>/<kid>.pem` (a new Ed25519 private key) unless it exists, without a window in which another
 * process starting at the same time could read half a file or make a second key: the key goes to a temporary
 * file first, then is hard-linked into place, which fails if the name is already taken (the other process
 * won, and its key is used).
 */
export function ensureDevelopmentKey(dir: string, kid: string): void {
  const { privateKey } = generateKeyPairSync('ed25519');
  const temporary = join(dir, `.${kid}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(temporary, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  try {
    linkSync(temporary, join(dir, `${kid}.pem`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}
