import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { BusNames } from '../contracts/index.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason, type Decoded, type MessageDecoder } from './decode-event.js';

/**
 * A dead letter: a message a consumer gave up on, kept with everything needed to understand and replay it.
 * On the bus it is the original body (bytes unchanged) on `dead-letter.<consumer>`, with these headers.
 */
export interface DeadLetter {
  readonly reason: DeadLetterReason;
  /** Why, in words: the schema issues, or the last error of the last delivery. */
  readonly detail: string;
  readonly consumer: string;
  /** Where the original was: its stream, its sequence there and its subject. */
  readonly stream: string;
  readonly streamSequence: number;
  readonly subject: string;
  /** How many times it had been delivered when it was dead-lettered. */
  readonly deliveries: number;
  /** The original message's headers, name → values. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly body: Uint8Array;
  readonly deadLetteredAt: string;
}

const H = {
  reason: 'Dead-Letter-Reason',
  detail: 'Dead-Letter-Detail',
  consumer: 'Dead-Letter-Consumer',
  stream: 'Dead-Letter-Stream',
  sequence: 'Dead-Letter-Sequence',
  subject: 'Dead-Letter-Subject',
  deliveries: 'Dead-Letter-Deliveries',
  headers: 'Dead-Letter-Headers',
  at: 'Dead-Letter-At',
} as const;

/**
 * The de-duplication id of a dead letter, `<stream>:<seq>:<consumer>`: one per original message and consumer,
 * however often that consumer dead-letters it. (Two consumers of one stream each keep their own letter: without
 * the consumer, JetStream would drop the second consumer's copy as a duplicate of the first's.)
 */
export function deadLetterKey(stream: string, streamSequence: number, consumer: string): string {
  return `${stream}:${streamSequence}:${consumer}`;
}

/** Header values are one line; a detail can be long and multi-line (schema issues). */
function oneLine(text: string, max = 2000): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function headersToRecord(h: MsgHdrs | undefined): Record<string, string[]> {
  const record: Record<string, string[]> = {};
  if (!h) return record;
  for (const key of h.keys()) record[key] = h.values(key);
  return record;
}

export function recordToHeaders(record: Readonly<Record<string, readonly string[]>>): MsgHdrs | undefined {
  const keys = Object.keys(record);
  if (keys.length === 0) return undefined;
  const h = natsHeaders();
  for (const key of keys) for (const value of record[key]!) h.append(key, value);
  return h;
}

/** The headers a dead letter is published with. */
export function deadLetterHeaders(letter: Omit<DeadLetter, 'body'>): MsgHdrs {
  const h = natsHeaders();
  h.set(H.reason, letter.reason);
  h.set(H.detail, oneLine(letter.detail));
  h.set(H.consumer, letter.consumer);
  h.set(H.stream, letter.stream);
  h.set(H.sequence, String(letter.streamSequence));
  h.set(H.subject, letter.subject);
  h.set(H.deliveries, String(letter.deliveries));
  h.set(H.headers, JSON.stringify(letter.headers));
  h.set(H.at, letter.deadLetteredAt);
  return h;
}

/** Reads a dead letter back from a message of the dead-letter stream (the dead-letter index's decoder). */
export const decodeDeadLetter: MessageDecoder<DeadLetter> = (message) => {
  const h = message.headers;
  const refuse = (detail: string): Decoded<DeadLetter> => ({ ok: false, reason: 'NOT_AN_ENVELOPE', detail });
  if (!h) return refuse('a dead letter without headers');
  const reason = h.get(H.reason) as DeadLetterReason;
  const streamSequence = Number(h.get(H.sequence));
  const deliveries = Number(h.get(H.deliveries));
  let original: Record<string, string[]>;
  try {
    original = JSON.parse(h.get(H.headers) || '{}') as Record<string, string[]>;
  } catch {
    return refuse(`${H.headers} is not JSON`);
  }
  if (!DEAD_LETTER_REASONS.includes(reason)) return refuse(`unknown dead-letter reason "${reason}"`);
  if (!Number.isSafeInteger(streamSequence) || streamSequence < 1) return refuse(`bad ${H.sequence}`);
  if (!h.get(H.stream) || !h.get(H.consumer) || !h.get(H.subject)) return refuse('stream, consumer or subject missing');
  return {
    ok: true,
    value: {
      reason,
      detail: h.get(H.detail),
      consumer: h.get(H.consumer),
      stream: h.get(H.stream),
      streamSequence,
      subject: h.get(H.subject),
      deliveries: Number.isSafeInteger(deliveries) ? deliveries : 0,
      headers: original,
      body: message.data,
      deadLetteredAt: h.get(H.at) || new Date(0).toISOString(),
    },
  };
};

/**
 * Copies a message a consumer gives up on into the namespace's dead-letter stream and awaits the PubAck, so the
 * caller may then terminate the original knowing nothing is lost. `Nats-Msg-Id` is deadLetterKey (the
 * original's `<stream>:<seq>` and the consumer): if the process dies between the PubAck and the termination, the redelivery dead-letters it again
 * and JetStream drops the copy (the dead-letter index also keeps one row per original, beyond the window).
 */
export class DeadLetterSink {
  constructor(
    private readonly js: JetStreamClient,
    private readonly names: BusNames,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async deadLetter(msg: JsMsg, reason: DeadLetterReason, detail: string): Promise<DeadLetter> {
    const letter: DeadLetter = {
      reason,
      detail,
      consumer: msg.info.consumer,
      stream: msg.info.stream,
      streamSequence: msg.seq,
      subject: msg.subject,
      deliveries: msg.info.deliveryCount,
      headers: headersToRecord(msg.headers),
      body: msg.data,
      deadLetteredAt: this.clock().toISOString(),
    };
    await this.js.publish(this.names.deadLetterSubject(letter.consumer), letter.body, {
      msgID: deadLetterKey(letter.stream, letter.streamSequence, letter.consumer),
      headers: deadLetterHeaders(letter),
      timeout: 5000,
    });
    return letter;
  }
}
