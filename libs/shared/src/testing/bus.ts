import { randomBytes, randomUUID } from 'node:crypto';
import { jetstreamManager, type JetStreamClient, type JetStreamManager, type PubAck, type StoredMsg } from '@nats-io/jetstream';
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { busNames, type BusNames, type EventEnvelope } from '../contracts/index.js';
import {
  EVENT_KEY_ID_HEADER,
  EVENT_SIGNATURE_HEADER,
  signEvent,
  type EventSigningKey,
} from '../event-signing/event-signature.js';

/** A unique bus namespace `t-<label>-<random8>` (a-z, 0-9, _ and -), so a test's subjects and streams are its own. */
export function testBusNamespace(label: string): string {
  const part =
    label
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 30) || 'x';
  return `t-${part}-${randomBytes(4).toString('hex')}`;
}

/** The prefix busNames puts before every stream name of a namespace (derived from busNames itself). */
export function streamPrefixOf(names: BusNames): string {
  const stream = names.stream('pairing');
  const bare = busNames('').stream('pairing');
  return stream.slice(0, stream.length - bare.length);
}

/**
 * Deletes every stream whose name starts with the namespace's stream prefix; returns their names. Refuses
 * the empty (production) namespace, whose prefix would match every stream.
 */
export async function deleteStreams(nc: NatsConnection, names: BusNames): Promise<string[]> {
  const prefix = streamPrefixOf(names);
  if (!names.namespace || !prefix) throw new Error('deleteStreams: refusing to delete the streams of the empty namespace');
  const jsm = await jetstreamManager(nc);
  const deleted: string[] = [];
  for await (const name of jsm.streams.names()) {
    if (!name.startsWith(prefix)) continue;
    await jsm.streams.delete(name);
    deleted.push(name);
  }
  return deleted;
}

/** Every message a stream holds, in sequence order. */
export async function streamMessages(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const messages: StoredMsg[] = [];
  if (state.messages === 0) return messages;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq });
    if (msg) messages.push(msg);
  }
  return messages;
}

/** Publishes an envelope on its subject as the relay would; `msgId` defaults to the event id. */
export function publishEnvelope(
  js: JetStreamClient,
  names: BusNames,
  envelope: EventEnvelope,
  msgId: string = envelope.eventId,
): Promise<PubAck> {
  return js.publish(names.subjectOf(envelope), JSON.stringify(envelope), { msgID: msgId });
}

/**
 * Publishes an envelope signed with `key`, exactly as a producer's relay does; `msgId` defaults to the event id.
 * `extra` headers are added (the chaos injector marks its copies).
 */
export function publishSignedEnvelope(
  js: JetStreamClient,
  names: BusNames,
  envelope: EventEnvelope,
  key: EventSigningKey,
  msgId: string = envelope.eventId,
  extra: Record<string, string> = {},
): Promise<PubAck> {
  const subject = names.subjectOf(envelope);
  const { body, keyId, signature } = signEvent(envelope, subject, key);
  const h = headersWith(extra);
  h.set(EVENT_KEY_ID_HEADER, keyId);
  h.set(EVENT_SIGNATURE_HEADER, signature);
  return js.publish(subject, body, { msgID: msgId, headers: h });
}

/**
 * Publishes a stored message again, its body and signature as they were, under a new `Nats-Msg-Id` (so JetStream's
 * de-duplication lets it through): what a misbehaving producer, or a republish after the duplicate window, does. A
 * verifying consumer accepts it. `extra` headers are added (the chaos injector marks its copies).
 */
export function publishCopy(js: JetStreamClient, message: StoredMsg, extra: Record<string, string> = {}): Promise<PubAck> {
  const h = headersWith(extra);
  for (const name of [EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER]) {
    const value = message.header?.get(name);
    if (value) h.set(name, value);
  }
  return js.publish(message.subject, message.data, { msgID: randomUUID(), headers: h });
}

function headersWith(extra: Record<string, string>): MsgHdrs {
  const h = headers();
  for (const [name, value] of Object.entries(extra)) h.set(name, value);
  return h;
}
