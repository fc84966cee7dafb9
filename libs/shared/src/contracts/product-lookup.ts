import { z } from 'zod';
import { Serial } from './pairing.events.js';

/**
 * Request/reply contract (core NATS, subject `busNames().productLookup`): another service asks pairing
 * whether a product exists. Answered from pairing's event store, so it is never behind a registration.
 */
export const ProductLookupRequestV1 = z.object({ serial: Serial });
export type ProductLookupRequestV1 = z.infer<typeof ProductLookupRequestV1>;

/** The product, or null when the serial is not registered. */
export const ProductLookupReplyV1 = z
  .object({
    serial: Serial,
    model: z.string(),
    firmwareVersion: z.string(),
    accountId: z.string(),
    registeredAt: z.string(),
    statefulSyncCapable: z.boolean(),
    pairId: z.string().nullable(),
  })
  .nullable();
export type ProductLookupReplyV1 = z.infer<typeof ProductLookupReplyV1>;
