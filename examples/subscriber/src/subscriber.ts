/**
 * A subscriber of another team, written from the published contracts alone (docs/asyncapi.yaml): it pulls from the
 * durable consumer an operator granted it, accepts an event only if its producer's published key signed exactly
 * these bytes for this subject, and keeps each product's newest effective set. Public packages and node:crypto only.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** What the subscriber needs: where the bus is, who it is on it, its consumer, and where the keys are published. */
export interface SubscriberOptions {
  readonly servers: string | string[];
  /** The team's bus user (`team-<team>`), its password, and its inbox prefix (`_INBOX_team-<team>`). */
  readonly user: string;
  readonly password: string;
  readonly inboxPrefix: string;
  /** The stream and the durable consumer granted to the team (`npm run bus -- grant-consumer`). */
  readonly stream: string;
  readonly durable: string;
  /** GET /.well-known/event-signing-keys of each producer whose events the stream holds, by source. */
  readonly keySets: Readonly<Record<string, string>>;
}

/** The parts of an EffectiveLicensesChanged this subscriber uses (docs/asyncapi.yaml has all of it). */
interface Envelope {
  readonly eventId: string;
  readonly type: string;
  readonly streamVersion: number;
  readonly subject?: string;
  readonly data: { readonly serial: string; readonly set: EffectiveSet };
}

/** A product's effective license set, as published (the same document as GET /products/:serial/effective-licenses). */
export interface EffectiveSet {
  readonly serial: string;
  readonly role: 'primary' | 'secondary' | 'standalone';
  readonly peerSerial: string | null;
  readonly licenses: readonly { readonly sku: string; readonly expiresAt: string | null }[];
  readonly [field: string]: unknown;
}

/** Why a message was refused (and terminated: redelivery cannot make it acceptable). */
export type Rejection = 'unsigned' | 'unknown_key' | 'wrong_key' | 'bad_signature' | 'moved' | 'malformed';

/** Fetches each producer's JWK Set: key id → Ed25519 public key, with the source it belongs to. */
export async function fetchKeys(
  keySets: Readonly<Record<string, string>>,
): Promise<Map<string, { source: string; key: KeyObject }>> {
  const keys = new Map<string, { source: string; key: KeyObject }>();
  for (const [source, url] of Object.entries(keySets)) {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    const set = (await response.json()) as { keys: { kid: string; kty: string; crv: string; x: string }[] };
    for (const jwk of set.keys) {
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.kid.startsWith(`${source}/`)) continue;
      keys.set(jwk.kid, { source, key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }) });
    }
  }
  return keys;
}

/** Keeps every product's newest effective set from a stream of signed EffectiveLicensesChanged. */
export class EffectiveSetSubscriber {
  /** serial → the newest set and the version of its stream (`effective-licenses-<serial>`) it came with. */
  readonly sets = new Map<string, { version: number; set: EffectiveSet }>();
  readonly rejected: { subject: string; reason: Rejection }[] = [];
  accepted = 0;
  private nc: NatsConnection | undefined;
  private messages: ConsumerMessages | undefined;
  private done: Promise<void> | undefined;

  constructor(private readonly options: SubscriberOptions) {}

  async start(): Promise<void> {
    let keys = await fetchKeys(this.options.keySets);
    this.nc = await connect({
      servers: this.options.servers,
      user: this.options.user,
      pass: this.options.password,
      inboxPrefix: this.options.inboxPrefix,
    });
    const consumer = await jetstream(this.nc).consumers.get(this.options.stream, this.options.durable);
    this.messages = await consumer.consume({ max_messages: 100 });
    this.done = (async () => {
      for await (const message of this.messages!) {
        let verdict = this.check(message, keys);
        // A key id we have not seen: a rotation may have published a new key since; fetch once more.
        if (verdict === 'unknown_key') {
          keys = await fetchKeys(this.options.keySets);
          verdict = this.check(message, keys);
        }
        if (typeof verdict === 'string') {
          this.rejected.push({ subject: message.subject, reason: verdict });
          message.term(verdict);
          continue;
        }
        this.apply(verdict);
        message.ack();
      }
    })();
  }

  /** The event, if its producer's key signed exactly these bytes for this subject; else why not. */
  private check(message: JsMsg, keys: Map<string, { source: string; key: KeyObject }>): Envelope | Rejection {
    const kid = message.headers?.get('Event-Key-Id');
    const signature = message.headers?.get('Event-Signature');
    if (!kid || !signature) return 'unsigned';
    // Key ids are `<source>/<name>~<thumbprint>`; events signed before ids carried the thumbprint name `<source>/<name>`.
    const entry = keys.get(kid) ?? [...keys].find(([id]) => id.startsWith(`${kid}~`))?.[1];
    if (!entry) return 'unknown_key';
    if (!verify(null, message.data, entry.key, Buffer.from(signature, 'base64'))) return 'bad_signature';
    let envelope: Envelope;
    try {
      envelope = JSON.parse(new TextDecoder().decode(message.data)) as Envelope;
    } catch {
      return 'malformed';
    }
    // The subject's first token (after a namespace) is the producing service: its key, and only its, may sign.
    if (!message.subject.split('.').includes(entry.source)) return 'wrong_key';
    if (envelope.subject !== message.subject) return 'moved';
    return envelope;
  }

  private apply(event: Envelope): void {
    this.accepted++;
    if (event.type !== 'EffectiveLicensesChanged') return; // StatefulSyncChanged: not needed here
    const held = this.sets.get(event.data.serial);
    // At-least-once and in any order across products: keep the newest version of each product's set.
    if (held && held.version >= event.streamVersion) return;
    this.sets.set(event.data.serial, { version: event.streamVersion, set: event.data.set });
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.done;
    await this.nc?.close();
  }
}
