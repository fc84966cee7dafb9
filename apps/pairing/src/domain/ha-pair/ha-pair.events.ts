import type { PairingEvent } from '#shared/contracts';

/** Two products became an HA pair: `primarySerial` shares its licenses with `secondarySerial`. */
export type ProductsAssociated = Extract<PairingEvent, { type: 'ProductsAssociated' }>;

/** An HA pair was broken up; the pair id is never reused. */
export type ProductsDissociated = Extract<PairingEvent, { type: 'ProductsDissociated' }>;

/** The events of one pair stream (`pair-<pairId>`). */
export type HaPairEvent = ProductsAssociated | ProductsDissociated;
