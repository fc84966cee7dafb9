import type { PairingEvent } from '#shared/contracts';

/** A product was registered to an account with its model and firmware. */
export type ProductRegistered = Extract<PairingEvent, { type: 'ProductRegistered' }>;

/** A registered product now runs another firmware version. */
export type ProductFirmwareChanged = Extract<PairingEvent, { type: 'ProductFirmwareChanged' }>;

/** The events of one product stream (`product-<serial>`). */
export type ProductEvent = ProductRegistered | ProductFirmwareChanged;
