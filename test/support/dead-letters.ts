import type { JetStreamClient } from '@nats-io/jetstream';
import {
  EVENT_KEY_ID_HEADER,
  EVENT_SIGNATURE_HEADER,
  deadLetterHeaders,
  deadLetterKey,
  signEvent,
  type EventEnvelope,
} from '#shared';
import type { BusNames } from '#shared/contracts';
import { sampleEvent, testEnvelope } from '#shared/testing';
import { developmentSigningKey } from './system.js';

/** A dead letter stored by storeFixedCauseDeadLetter: the event inside it, its signature, where it came from. */
export interface StoredDeadLetter {
  readonly envelope: EventEnvelope;
  readonly keyId: string;
  readonly streamSequence: number;
}

/**
 * A dead letter whose cause has since been fixed: a ProductRegistered of `serial` that an earlier deployment's sync
 * agent refused as an unknown event type, signed by pairing as every event must be, in the sync agent's dead-letter
 * stream at a random stream sequence. A replay applies it.
 */
export async function storeFixedCauseDeadLetter(
  js: JetStreamClient,
  names: BusNames,
  serial: string,
  accountId: string,
): Promise<StoredDeadLetter> {
  const envelope = testEnvelope(sampleEvent('ProductRegistered', { serial, accountId }), { streamId: `product-${serial}` });
  const signed = signEvent(envelope, names.subjectOf(envelope), developmentSigningKey('pairing'));
  const stream = names.stream('pairing');
  const streamSequence = 1_000_000 + Math.floor(Math.random() * 1_000_000);
  await js.publish(names.deadLetterSubject('sync-agent'), signed.body, {
    msgID: deadLetterKey(stream, streamSequence, 'sync-agent'),
    headers: deadLetterHeaders({
      reason: 'UNKNOWN_EVENT_TYPE',
      detail: 'unknown event type ProductRegistered',
      consumer: 'sync-agent',
      stream,
      streamSequence,
      subject: names.subjectOf(envelope),
      deliveries: 1,
      headers: {
        'Nats-Msg-Id': [envelope.eventId],
        [EVENT_KEY_ID_HEADER]: [signed.keyId],
        [EVENT_SIGNATURE_HEADER]: [signed.signature],
      },
      deadLetteredAt: new Date().toISOString(),
    }),
  });
  return { envelope, keyId: signed.keyId, streamSequence };
}
