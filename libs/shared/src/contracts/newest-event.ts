import { z } from 'zod';

/**
 * Request/reply contract (core NATS, subject `busNames().newestEvent(source)`, answered signed by `source`): the
 * id of the last event the producer has committed, in the order it publishes them. The sync agent asks before it
 * reports a pair ready: it has applied every committed event only if it has applied that one.
 */
export const NewestEventRequestV1 = z.strictObject({});
export type NewestEventRequestV1 = z.infer<typeof NewestEventRequestV1>;

/** `eventId` null: the producer has committed no event yet. */
export const NewestEventReplyV1 = z.strictObject({ eventId: z.uuid().nullable() });
export type NewestEventReplyV1 = z.infer<typeof NewestEventReplyV1>;
