import type { KeyObject } from 'node:crypto';
import { ed25519Sign, ed25519Verify } from './ed25519.js';
import {
  decodeEvent,
  type BatchDecoder,
  type Decoded,
  type InboundMessage,
  type MessageDecoder,
  type SignatureRejectionReason,
} from '../messaging/decode-event.js';
import type { SignatureVerifier } from './signature-verifier.js';
import {
  contractOf,
  InvalidEventError,
  parseEnvelope,
  type BusNames,
  type EventEnvelope,
  type EventSource,
} from '../contracts/index.js';

/**
 * Signed events. A producer signs the exact bytes of each message body with Ed25519 and sends the key id and
 * the signature in headers; the body repeats the subject (and already carries the event id and stream
 * version), so nothing that identifies the event can be changed or moved without breaking the signature.
 * Verification is pure: same message and keys, same answer.
 */

/**
 * The header naming the signing key: `<source>/<name>~<thumbprint>` (eventKeyId), e.g.
 * `licensing/2026-01~kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k`: the kid of the key in the producer's
 * GET /.well-known/event-signing-keys.
 */
export const EVENT_KEY_ID_HEADER = 'Event-Key-Id';
/** The header holding the Ed25519 signature of the body, base64. */
export const EVENT_SIGNATURE_HEADER = 'Event-Signature';

/**
 * Why a consumer refused an event, as counted in `ha_license_sync_events_rejected_total{reason}`. The first six are decided
 * from the message alone (verifyEventMessage); `replayed` and `stale_version` by the consumer's inbox and
 * newest-version rule, which know what was applied before.
 */
export type EventRejectionReason =
  'malformed' | 'unsigned' | 'unknown_key' | 'bad_signature' | 'wrong_key' | 'moved' | 'replayed' | 'stale_version';

/** A public key a consumer accepts, and the one source whose events it may sign. */
export interface EventVerificationKey {
  /** `<source>/<name>~<thumbprint>`: what the producer puts in the Event-Key-Id header. */
  readonly kid: string;
  readonly source: EventSource;
  readonly publicKey: KeyObject;
}

/** A producer's signing key. */
export interface EventSigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
}

/** A message as it arrived: its subject, its exact body bytes and the two signature headers (if any). */
export interface ReceivedEventMessage {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly keyId?: string | undefined;
  readonly signature?: string | undefined;
}

export type EventVerification =
  | { readonly ok: true; readonly event: EventEnvelope }
  | { readonly ok: false; readonly reason: EventRejectionReason; readonly detail: string };

/** The body and signature headers the relay publishes for `envelope` on `subject`. */
export function signEvent(
  envelope: EventEnvelope,
  subject: string,
  key: EventSigningKey,
): { body: Uint8Array; keyId: string; signature: string } {
  const body = Buffer.from(JSON.stringify({ ...envelope, subject }));
  return { body, keyId: key.kid, signature: ed25519Sign(body, key.privateKey).toString('base64') };
}

const BASE64 = /^[A-Za-z0-9+/]{86}==$/; // an Ed25519 signature: 64 bytes

/**
 * Accepts a message only if it is signed by a known key of the source that owns its event type, over exactly
 * these bytes, and names the subject it arrived on (which must also be the subject its data maps to).
 */
export function verifyEventMessage(
  message: ReceivedEventMessage,
  keys: ReadonlyMap<string, EventVerificationKey>,
  names: BusNames,
): EventVerification {
  return verifyWith(message, keys, names, () => parseEnvelope(message.body));
}

/** Whether `signature` (base64, well-formed) is `key`'s signature of `body`: checked here, or answered from a batch checked elsewhere. */
type SignatureCheckOf = (body: Uint8Array, key: EventVerificationKey, signature: string) => boolean;

const checkInline: SignatureCheckOf = (body, key, signature) =>
  ed25519Verify(body, key.publicKey, Buffer.from(signature, 'base64'));

/**
 * verifyEventMessage, with the body parsed by `parse` (once, by whoever already parsed it) after the signature
 * holds, and the signature checked by `checkSignature`.
 */
function verifyWith(
  message: ReceivedEventMessage,
  keys: ReadonlyMap<string, EventVerificationKey>,
  names: BusNames,
  parse: () => EventEnvelope,
  checkSignature: SignatureCheckOf = checkInline,
): EventVerification {
  const reject = (reason: EventRejectionReason, detail: string): EventVerification => ({ ok: false, reason, detail });
  const { keyId, signature, body, subject } = message;
  if (!keyId || !signature) return reject('unsigned', `no ${EVENT_KEY_ID_HEADER} or ${EVENT_SIGNATURE_HEADER} header`);
  const key = keys.get(keyId);
  if (!key) return reject('unknown_key', `signed by unknown key ${JSON.stringify(keyId.slice(0, 80))}`);
  if (!BASE64.test(signature) || !checkSignature(body, key, signature))
    return reject('bad_signature', `the signature does not match the body for key ${keyId}`);
  let event: EventEnvelope;
  try {
    event = parse();
  } catch (error) {
    return reject('malformed', error instanceof InvalidEventError ? error.message : String(error));
  }
  const owner = contractOf(event.type).source;
  if (owner !== key.source)
    return reject('wrong_key', `${event.type} is published by ${owner}, but ${keyId} is a ${key.source} key`);
  if (event.subject !== subject) return reject('moved', `signed for ${event.subject ?? '(no subject)'}, delivered on ${subject}`);
  const expected = names.subjectOf(event);
  if (expected !== subject) return reject('moved', `${event.type} ${event.eventId} belongs on ${expected}, not ${subject}`);
  return { ok: true, event };
}

const SIGNATURE_REASONS: Readonly<
  Record<Exclude<EventRejectionReason, 'malformed' | 'replayed' | 'stale_version'>, SignatureRejectionReason>
> = {
  unsigned: 'UNSIGNED',
  unknown_key: 'UNKNOWN_KEY',
  bad_signature: 'BAD_SIGNATURE',
  wrong_key: 'WRONG_KEY',
  moved: 'MOVED',
};

/**
 * The decode step of a consumer that accepts only signed events. A message that is not even a valid event is
 * refused for that, with decodeEvent's precise reason (what an operator needs to fix it); a valid event must
 * then carry its producer's signature, over these bytes, for this subject (verifyEventMessage).
 */
export function verifiedEventDecoder(
  keys: ReadonlyMap<string, EventVerificationKey>,
  names: BusNames,
): MessageDecoder<EventEnvelope> {
  return (message) => decodeVerified(message, decodeEvent(message), keys, names, checkInline);
}

/**
 * verifiedEventDecoder for a whole batch, the same answer for every message, with the signatures checked by
 * `verifier` (on its threads) while this thread parses the bodies.
 */
export function verifiedEventBatchDecoder(
  keys: ReadonlyMap<string, EventVerificationKey>,
  names: BusNames,
  verifier: SignatureVerifier,
): BatchDecoder<EventEnvelope> {
  return async (messages) => {
    // Every message that carries both headers; verifyWith consults the answer only for a known key and a
    // well-formed signature (an unknown kid or a malformed signature simply verifies as false).
    const signed = messages.map((message) => {
      const kid = message.headers?.get(EVENT_KEY_ID_HEADER);
      const signature = message.headers?.get(EVENT_SIGNATURE_HEADER);
      return kid && signature ? { kid, body: message.data, signature } : null;
    });
    const checked = verifier.verifyAll(signed.filter((check) => check !== null));
    const parsed = messages.map((message) => decodeEvent(message));
    const answers = await checked;
    let next = 0;
    const verified = signed.map((check) => check !== null && answers[next++] === true);
    return messages.map((message, i) => decodeVerified(message, parsed[i]!, keys, names, () => verified[i]!));
  };
}

function decodeVerified(
  message: InboundMessage,
  parsed: Decoded<EventEnvelope>,
  keys: ReadonlyMap<string, EventVerificationKey>,
  names: BusNames,
  checkSignature: SignatureCheckOf,
): Decoded<EventEnvelope> {
  if (!parsed.ok) return parsed;
  const result = verifyWith(
    {
      subject: message.subject,
      body: message.data,
      keyId: message.headers?.get(EVENT_KEY_ID_HEADER) || undefined,
      signature: message.headers?.get(EVENT_SIGNATURE_HEADER) || undefined,
    },
    keys,
    names,
    () => parsed.value, // parsed and schema-checked once, above
    checkSignature,
  );
  if (result.ok) return { ok: true, value: result.event };
  // 'malformed' cannot happen here (parsed above); replays and stale versions are judged by the projector.
  if (result.reason === 'malformed' || result.reason === 'replayed' || result.reason === 'stale_version')
    return { ok: false, reason: 'NOT_AN_ENVELOPE', detail: result.detail };
  return { ok: false, reason: SIGNATURE_REASONS[result.reason], detail: result.detail };
}
