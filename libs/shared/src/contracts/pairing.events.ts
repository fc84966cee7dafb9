import { z } from 'zod';

/**
 * Events published by the pairing service. Each carries the full current state of its aggregate, so a
 * consumer can keep the newest version of a product or pair whatever order the events arrive in.
 */
export const SERIAL_PATTERN = /^[0-9A-F]{12}$/;
export const Serial = z.string().regex(SERIAL_PATTERN, 'a serial is 12 characters 0-9A-F');
const Instant = z.iso.datetime({ offset: true });

export const ProductRegisteredV1 = z.object({
  serial: Serial,
  model: z.string().min(1),
  firmwareVersion: z.string().min(1),
  accountId: z.string().min(1),
  registeredAt: Instant,
});
export type ProductRegisteredV1 = z.infer<typeof ProductRegisteredV1>;

export const ProductFirmwareChangedV1 = z.object({
  serial: Serial,
  model: z.string().min(1),
  accountId: z.string().min(1),
  previousFirmwareVersion: z.string().min(1),
  firmwareVersion: z.string().min(1),
  changedAt: Instant,
});
export type ProductFirmwareChangedV1 = z.infer<typeof ProductFirmwareChangedV1>;

/**
 * When a pair replaces another because a unit failed (RMA), the pair it replaces, the failed unit and the
 * unit that takes over the failed unit's licenses (the old Secondary if the Primary failed, else the
 * replacement unit).
 */
export const PairReplacementV1 = z.object({
  pairId: z.uuid(),
  failedSerial: Serial,
  replacementSerial: Serial,
  successorSerial: Serial,
});
export type PairReplacementV1 = z.infer<typeof PairReplacementV1>;

export const ProductsAssociatedV1 = z.object({
  pairId: z.uuid(),
  primarySerial: Serial,
  secondarySerial: Serial,
  model: z.string().min(1),
  accountId: z.string().min(1),
  associatedAt: Instant,
  /** Set when this pair was formed by replacing a failed unit of another pair. */
  replaces: PairReplacementV1.nullable().optional(),
});
export type ProductsAssociatedV1 = z.infer<typeof ProductsAssociatedV1>;

export const ProductsDissociatedV1 = ProductsAssociatedV1.extend({
  dissociatedAt: Instant,
  /** Set when the pair ended because a unit was replaced: the pair that replaced it. */
  replacedBy: z.uuid().nullable().optional(),
});
export type ProductsDissociatedV1 = z.infer<typeof ProductsDissociatedV1>;

/** The pairing events as domain events (type + data). */
export type PairingEvent =
  | { type: 'ProductRegistered'; data: ProductRegisteredV1 }
  | { type: 'ProductFirmwareChanged'; data: ProductFirmwareChangedV1 }
  | { type: 'ProductsAssociated'; data: ProductsAssociatedV1 }
  | { type: 'ProductsDissociated'; data: ProductsDissociatedV1 };
