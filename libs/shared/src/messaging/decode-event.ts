import type { MsgHdrs } from '@nats-io/transport-node';
import { InvalidEventError, parseEnvelope, type EventEnvelope, type InvalidEventReason } from '../contracts/index.js';

/** Why a signed event was refused before it was parsed further (see event-signing/event-signature.ts). */
export type SignatureRejectionReason = 'UNSIGNED' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE' | 'WRONG_KEY' | 'MOVED';

/**
 * Why a consumer refused a valid, correctly signed event without applying it: its event id was already applied
 * from another message (a copy published again), or its stream version is not newer than the one held.
 */
export type RefusalReason = 'REPLAYED' | 'STALE_VERSION';

/**
 * Why a message was dead-lettered: it is not an acceptable event (poison), its signature does not hold, the
 * consumer refused it as a replay, or it failed its last allowed delivery.
 */
export type DeadLetterReason = InvalidEventReason | SignatureRejectionReason | RefusalReason | 'MAX_DELIVERIES';

export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  'MALFORMED_JSON',
  'NOT_AN_ENVELOPE',
  'UNKNOWN_EVENT_TYPE',
  'UNSUPPORTED_SCHEMA_VERSION',
  'SCHEMA_VIOLATION',
  'UNSIGNED',
  'UNKNOWN_KEY',
  'BAD_SIGNATURE',
  'WRONG_KEY',
  'MOVED',
  'REPLAYED',
  'STALE_VERSION',
  'MAX_DELIVERIES',
];

/** A message as received, or as kept in a dead letter: what a decoder may look at. */
export interface InboundMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
}

/** The one poison check: a message is either an event to apply or refused with a reason and a detail. */
export type Decoded<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: DeadLetterReason; readonly detail: string };

/** Turns a message into a value, or says why it cannot be one. Must be deterministic: a replay decodes again. */
export type MessageDecoder<T> = (message: InboundMessage) => Decoded<T>;

/** A MessageDecoder for a whole batch at once (answers in the messages' order), free to work off this thread. */
export type BatchDecoder<T> = (messages: readonly InboundMessage[]) => Promise<Decoded<T>[]>;

/** The decoder of event consumers: a JSON envelope of a known type and version whose data passes its schema. */
export const decodeEvent: MessageDecoder<EventEnvelope> = (message) => {
  try {
    return { ok: true, value: parseEnvelope(message.data) };
  } catch (error) {
    if (error instanceof InvalidEventError) return { ok: false, reason: error.reason, detail: error.message };
    throw error;
  }
};
