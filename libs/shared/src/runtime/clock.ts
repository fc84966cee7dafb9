/** The time source handlers pass to deciders as `metadata.now`; injected so tests can control it. */
export interface Clock {
  now(): Date;
}

/** Nest injection token for the Clock. */
export const CLOCK = Symbol('Clock');

export const systemClock: Clock = { now: () => new Date() };
