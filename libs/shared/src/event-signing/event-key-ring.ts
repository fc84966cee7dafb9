import type { KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError, type EventKeySettings } from '../config/service-config.js';
import type { EventSigningKeySetV1, EventSource } from '../contracts/index.js';
import type { EventSigningKey, EventVerificationKey } from './event-signature.js';
import { ed25519Thumbprint, eventSigningJwk } from './jwk.js';
import { ensureDevelopmentKey, isKeyDirectory, pemFilesIn, readPemKey } from './pem-key-files.js';

/**
 * Event-signing keys, read once at start from EVENT_KEYS_DIR: one sub-directory per producing service,
 * `<dir>/<source>/<name>.pem`. A service signs with a private key of its own source's directory and verifies with
 * every key of every directory, so in production each service's directory holds its own private key(s) and the
 * other services' public keys. Several keys of a source are valid at once (rotation): add the new key, point
 * EVENT_SIGNING_KEY_ID at it (or name it so it sorts last), restart the producer; retire the old file once no
 * consumer has its events left to read.
 *
 * A key's id is `<source>/<name>~<thumbprint>` (eventKeyId): the RFC 7638 thumbprint of its public key makes it
 * unique by construction, so two checkouts' development keys (all named `dev`) or two rotations that reuse a name
 * never share an id on a shared bus. Events signed under the shorter `<source>/<name>` still verify here (an alias
 * in the verification map: within one key ring a name is one file), so a stream's older events, and a rebuild that
 * reads them, stay valid.
 */

/** `<source>/<name>~<thumbprint>`: what the Event-Key-Id header of the key's events says. */
export function eventKeyId(source: EventSource, name: string, publicKey: KeyObject): string {
  return `${source}/${name}~${ed25519Thumbprint(publicKey)}`;
}

export const EVENT_SOURCES: readonly EventSource[] = ['pairing', 'licensing', 'sync-agent'];

export interface EventKeyRing {
  readonly signing: EventSigningKey;
  /** Every key of every source by its id (and by its `<source>/<name>` alias). */
  readonly verification: ReadonlyMap<string, EventVerificationKey>;
  /** The public keys of this service's own source, as GET /.well-known/event-signing-keys publishes them. */
  readonly published: EventSigningKeySetV1;
  readonly warnings: readonly string[];
}

/**
 * Reads the key ring of `source`. Outside production with EVENT_KEYS_DIR unset, first makes a development key for
 * every source that has none, so that three services started together (npm start) sign and verify each other's
 * events. Throws ConfigurationError naming the variable and the file at fault.
 */
export function loadEventKeyRing(settings: EventKeySettings, source: EventSource): EventKeyRing {
  const problem = (message: string) => new ConfigurationError([`EVENT_KEYS_DIR: ${message}`]);
  const warnings: string[] = [];
  if (!settings.configured && settings.production)
    throw problem(
      "must be set when NODE_ENV=production, to a directory of <source>/<name>.pem Ed25519 keys (this service's " +
        "private key, the other services' public keys); without it, events would be signed with throw-away development keys",
    );
  if (!settings.configured) {
    for (const s of EVENT_SOURCES) {
      const dir = join(settings.dir, s);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (pemFilesIn(dir).length === 0) ensureDevelopmentKey(dir, 'dev');
    }
    warnings.push(
      `EVENT_KEYS_DIR is not set: events are signed and verified with development keys from ${settings.dir}. ` +
        'Set EVENT_KEYS_DIR outside development.',
    );
  }
  // A directory or key this process may not read is reported as such (permission denied), never as missing.
  const orProblem = <T>(read: () => T): T => {
    try {
      return read();
    } catch (error) {
      throw problem((error as Error).message);
    }
  };
  if (!orProblem(() => isKeyDirectory(settings.dir))) throw problem(`${settings.dir} is not a directory`);

  const verification = new Map<string, EventVerificationKey>();
  const own: (EventSigningKey & { readonly name: string })[] = [];
  const published: EventSigningKeySetV1['keys'][number][] = [];
  for (const s of EVENT_SOURCES) {
    const dir = join(settings.dir, s);
    if (!orProblem(() => isKeyDirectory(dir))) continue;
    for (const file of orProblem(() => pemFilesIn(dir))) {
      const key = orProblem(() => readPemKey(dir, file, 'events are signed with Ed25519'));
      const kid = eventKeyId(s, key.kid, key.publicKey);
      const verificationKey = { kid, source: s, publicKey: key.publicKey };
      verification.set(kid, verificationKey).set(`${s}/${key.kid}`, verificationKey);
      if (s !== source) continue;
      published.push(eventSigningJwk(kid, key.publicKey));
      if (key.privateKey) own.push({ kid, name: key.kid, privateKey: key.privateKey });
    }
  }
  const wanted = settings.signingKeyId;
  const chosen = wanted ? own.find((k) => k.name === wanted || `${source}/${k.name}` === wanted || k.kid === wanted) : own.at(-1);
  if (!chosen) {
    if (wanted)
      throw new ConfigurationError([
        `EVENT_SIGNING_KEY_ID: ${join(settings.dir, source)} holds no private key "${wanted}" (private keys: ${own.map((k) => `${source}/${k.name}`).join(', ') || 'none'})`,
      ]);
    throw problem(
      `${join(settings.dir, source)} holds no private <name>.pem key; ${source} signs every event it publishes ` +
        '(e.g. `openssl genpkey -algorithm ed25519 -out 2026-01.pem`)',
    );
  }
  return { signing: { kid: chosen.kid, privateKey: chosen.privateKey }, verification, published: { keys: published }, warnings };
}
