import type { PairingEvent } from '#shared/contracts';

/** Two products became a pair: `primarySerial` shares its licenses with `secondarySerial`. */
export type ProductsAssociated = Extract<PairingEvent, { type: 'ProductsAssociated' }>;

/** A pair was broken up; the pair id is never reused. */
export type ProductsDissociated = Extract<PairingEvent, { type: 'ProductsDissociated' }>;

/** The events of one pair stream (`pair-<pairId>`). */
export type PairEvent = ProductsAssociated | ProductsDissociated;
