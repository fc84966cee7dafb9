import { z } from 'zod';
import { contractOf, isEventType, type PublishedEvent } from './event-catalog.js';

/** Who caused an event: the request or event that led to it. */
export const EventMetadata = z.object({
  correlationId: z.string().nullable(),
  causationId: z.string().nullable(),
  /**
   * Who made the change: the id of the API key whose request appended the event (never the key itself), or, for an
   * event the sync agent or licensing derived from another, that event's actor. Absent for changes nobody asked for
   * (an expiry recorded by the scheduler) and on events recorded before it existed; optional within v1.
   */
  actor: z.string().min(1).max(128).optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;

/**
 * The JSON body of every message on the bus. `eventId` is also the `Nats-Msg-Id` header (JetStream
 * de-duplication); `streamVersion` orders the events of one aggregate (`streamId`).
 */
export const EventEnvelopeSchema = z.object({
  eventId: z.uuid(),
  type: z.string().min(1),
  schemaVersion: z.number().int().positive(),
  streamId: z.string().min(1),
  streamVersion: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  data: z.unknown(),
  metadata: EventMetadata,
  /**
   * The subject the producer published the event on. Added compatibly (optional; readers that do not know it
   * ignore it): it is covered by the event's signature, so a signed event cannot be moved to another subject.
   */
  subject: z.string().min(1).optional(),
});

/** An envelope whose data has been checked against its event's schema. */
export type EventEnvelope<E extends PublishedEvent = PublishedEvent> = Omit<
  z.infer<typeof EventEnvelopeSchema>,
  'type' | 'data'
> &
  E;

/** Why a message body is not an acceptable event, as a stable code (dead-letter reasons, metrics labels). */
export type InvalidEventReason =
  'MALFORMED_JSON' | 'NOT_AN_ENVELOPE' | 'UNKNOWN_EVENT_TYPE' | 'UNSUPPORTED_SCHEMA_VERSION' | 'SCHEMA_VIOLATION';

/** Why a message could not be accepted as an event; the consumer dead-letters (or terminates) such messages. */
export class InvalidEventError extends Error {
  constructor(
    readonly reason: InvalidEventReason,
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(issues.length ? `${message}: ${issues.join('; ')}` : message);
    this.name = 'InvalidEventError';
  }
}

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
}

/**
 * Parses a message body into a validated envelope: JSON, envelope shape, known type, supported schema
 * version, and the event's own schema. Throws InvalidEventError naming what failed.
 */
export function parseEnvelope(body: Uint8Array | string): EventEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
  } catch {
    throw new InvalidEventError('MALFORMED_JSON', 'message body is not valid JSON');
  }
  const envelope = EventEnvelopeSchema.safeParse(json);
  if (!envelope.success)
    throw new InvalidEventError('NOT_AN_ENVELOPE', 'message is not an event envelope', describeIssues(envelope.error));
  const { type, schemaVersion } = envelope.data;
  if (!isEventType(type)) throw new InvalidEventError('UNKNOWN_EVENT_TYPE', `unknown event type ${type}`);
  const contract = contractOf(type);
  if (schemaVersion !== contract.schemaVersion) {
    throw new InvalidEventError(
      'UNSUPPORTED_SCHEMA_VERSION',
      `unsupported schema version ${schemaVersion} of ${type} (supported: ${contract.schemaVersion})`,
    );
  }
  const data = contract.schema.safeParse(envelope.data.data);
  if (!data.success) throw new InvalidEventError('SCHEMA_VIOLATION', `${type} fails its schema`, describeIssues(data.error));
  return { ...envelope.data, type, data: data.data } as EventEnvelope;
}
