import type { KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import {
  ConfigurationError,
  ensureDevelopmentKey,
  isKeyDirectory,
  PEM_KID as KID,
  PEM_KID_RULE as KID_RULE,
  pemFilesIn,
  readPemKey,
  issueLicenseDocument,
  publishedSigningKey,
  type EffectiveLicenseSetV1,
  type LicenseSigningKeySetV1,
  type SignedLicenseDocumentV1,
} from '#shared';

/**
 * The sync agent's license-signing keys, read once at start from LICENSE_SIGNING_KEYS_DIR: a directory of
 * `<kid>.pem` files. A PKCS#8 Ed25519 private key can sign and is published; an SPKI public key (a retired key
 * whose private half was destroyed) is only published, so that the documents it signed keep verifying until they
 * expire. Rotation: add the new key file, point LICENSE_SIGNING_KEY_ID at it (or name it so it sorts last),
 * restart; remove the old file once every document it signed has expired (LICENSE_DOCUMENT_TTL_HOURS later).
 */

/** Where development keys go when LICENSE_SIGNING_KEYS_DIR is unset (git-ignored: `.local/`). */
export const DEVELOPMENT_KEYS_DIR = join('.local', 'license-signing-keys');
const DEVELOPMENT_KID = 'dev';

/** The validated variables, before any file is read. */
export interface LicenseSigningSettings {
  /** Absolute path of the key directory. */
  readonly keysDir: string;
  /** False when LICENSE_SIGNING_KEYS_DIR is unset and the development directory is used (a key is made if none). */
  readonly configured: boolean;
  /** LICENSE_SIGNING_KEY_ID; undefined means the last private key in sorted kid order. */
  readonly activeKid: string | undefined;
  readonly timeToLiveMs: number;
}

/** Reads and validates the variables; throws ConfigurationError naming each bad one. */
export function loadLicenseSigningSettings(env: NodeJS.ProcessEnv, cwd: string): LicenseSigningSettings {
  const schema = z.object({
    NODE_ENV: z.string().optional(),
    LICENSE_SIGNING_KEYS_DIR: z.string().optional(),
    LICENSE_SIGNING_KEY_ID: z.string().regex(KID, `must be a key id: ${KID_RULE}`).optional(),
    LICENSE_DOCUMENT_TTL_HOURS: z.coerce
      .number({ error: 'must be a whole number of hours' })
      .int('must be a whole number of hours')
      .min(1, 'must be 1 or more')
      .max(8760, 'must be at most 8760 (a year)')
      .default(168),
  });
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(blankAsUnset);
  if (!parsed.success)
    throw new ConfigurationError(
      parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`),
    );
  const c = parsed.data;
  if (c.LICENSE_SIGNING_KEYS_DIR === undefined && c.NODE_ENV === 'production')
    throw new ConfigurationError([
      'LICENSE_SIGNING_KEYS_DIR: must be set when NODE_ENV=production, to a directory of <kid>.pem Ed25519 private keys ' +
        '(PKCS#8 PEM, e.g. `openssl genpkey -algorithm ed25519 -out 2025-01.pem`); without it, license documents would be ' +
        'signed with a throw-away development key',
    ]);
  return {
    keysDir: resolve(cwd, c.LICENSE_SIGNING_KEYS_DIR ?? DEVELOPMENT_KEYS_DIR),
    configured: c.LICENSE_SIGNING_KEYS_DIR !== undefined,
    activeKid: c.LICENSE_SIGNING_KEY_ID,
    timeToLiveMs: c.LICENSE_DOCUMENT_TTL_HOURS * 3_600_000,
  };
}

/** One key of the ring: the public half always, the private half unless the key is retired. */
export interface SigningKey {
  readonly kid: string;
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject | null;
}

/** Signs documents with the active key and publishes every key's public half. */
export class LicenseSigningKeyRing {
  private readonly active: SigningKey & { readonly privateKey: KeyObject };

  constructor(
    readonly keys: readonly SigningKey[],
    activeKid: string,
    readonly timeToLiveMs: number,
  ) {
    const active = keys.find((k) => k.kid === activeKid);
    if (!active?.privateKey) throw new Error(`the active signing key "${activeKid}" is not a private key of the ring`);
    this.active = { ...active, privateKey: active.privateKey };
  }

  get activeKid(): string {
    return this.active.kid;
  }

  /** The signed document of `set`, issued at `now`. */
  issue(set: EffectiveLicenseSetV1, now: Date): SignedLicenseDocumentV1 {
    return issueLicenseDocument(set, {
      kid: this.active.kid,
      privateKey: this.active.privateKey,
      issuedAt: now,
      timeToLiveMs: this.timeToLiveMs,
    });
  }

  /** What GET /.well-known/license-signing-keys answers. */
  publishedKeySet(): LicenseSigningKeySetV1 {
    return { keys: this.keys.map((k) => publishedSigningKey(k.kid, k.publicKey)), activeKid: this.active.kid };
  }
}

export interface LoadedKeyRing {
  readonly ring: LicenseSigningKeyRing;
  /** Something an operator should know, e.g. that a development key is in use. */
  readonly warnings: readonly string[];
}

/**
 * Reads the key ring the variables describe. Outside production with LICENSE_SIGNING_KEYS_DIR unset, makes a
 * development key in `<cwd>/.local/license-signing-keys/` the first time, so that documents stay verifiable
 * across restarts. Throws ConfigurationError naming the variable and the file at fault.
 */
export function loadLicenseSigningKeyRing(env: NodeJS.ProcessEnv, cwd: string): LoadedKeyRing {
  const settings = loadLicenseSigningSettings(env, cwd);
  const { keysDir } = settings;
  const warnings: string[] = [];
  if (!settings.configured) {
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    if (pemFilesIn(keysDir).length === 0) ensureDevelopmentKey(keysDir, DEVELOPMENT_KID);
    warnings.push(
      `LICENSE_SIGNING_KEYS_DIR is not set: license documents are signed with a development key from ${keysDir}. ` +
        'Set LICENSE_SIGNING_KEYS_DIR to a directory of Ed25519 keys outside development.',
    );
  }

  const problem = (message: string) => new ConfigurationError([`LICENSE_SIGNING_KEYS_DIR: ${message}`]);
  // A directory or key this process may not read is reported as such (permission denied), never as missing.
  if (!readKey(() => isKeyDirectory(keysDir), problem)) throw problem(`${keysDir} does not exist`);
  const keys = readKey(() => pemFilesIn(keysDir), problem).map((file) =>
    readKey(() => readPemKey(keysDir, file, 'license documents are signed with Ed25519'), problem),
  );
  if (keys.length === 0) throw problem(`${keysDir} holds no <kid>.pem key`);

  const signing = keys.filter((k) => k.privateKey !== null);
  const activeKid = settings.activeKid ?? signing.at(-1)?.kid;
  if (activeKid === undefined) throw problem(`${keysDir} holds only public keys; the active key must be a private key`);
  const active = keys.find((k) => k.kid === activeKid);
  if (active === undefined)
    throw new ConfigurationError([
      `LICENSE_SIGNING_KEY_ID: there is no ${activeKid}.pem in ${keysDir} (keys: ${keys.map((k) => k.kid).join(', ')})`,
    ]);
  if (active.privateKey === null)
    throw new ConfigurationError([
      `LICENSE_SIGNING_KEY_ID: ${activeKid}.pem in ${keysDir} is a public key; the active key must be a private key`,
    ]);
  return { ring: new LicenseSigningKeyRing(keys, activeKid, settings.timeToLiveMs), warnings };
}

/** Runs a read of the key directory, turning its Error into a ConfigurationError naming the variable. */
function readKey<T>(read: () => T, problem: (message: string) => ConfigurationError): T {
  try {
    return read();
  } catch (error) {
    throw problem((error as Error).message);
  }
}
