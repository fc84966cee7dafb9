import type { EffectiveLicenseSetV1, EventEnvelope } from '#shared/contracts';
import { applyEvents, effectiveSetOf, emptyProjection } from './projection.js';

/**
 * "As of": a product's effective set at a past instant, answered from the events the sync agent consumed
 * (its inbox keeps every envelope) rather than from the current facts. Pure: the loader is handed in, and the
 * instant is a parameter, so expiry is judged against `at` exactly as the live set judges it against the clock.
 */

/** A consumed event as the inbox keeps it: the validated envelope and the serials it concerns. */
export interface ConsumedEvent {
  readonly serials: readonly string[];
  readonly envelope: EventEnvelope;
}

/**
 * Loads the consumed events that concern any of `serials` (and happened no later than the instant the caller
 * asks about), leaving out the event ids in `seen`.
 */
export type ConsumedEventLoader = (serials: readonly string[], seen: ReadonlySet<string>) => Promise<ConsumedEvent[]>;

/**
 * How many times the set of serials is widened. Round 1 loads the product's own events (its registration,
 * licenses and pairs, which name its peers); round 2 its peers' (their licenses, and pairs or replacements
 * naming further units); rounds 3 and 4 reach units those name (e.g. a failed unit whose licenses a successor
 * holds). Further units cannot change this product's set.
 */
export const AS_OF_EXPANSION_ROUNDS = 4;

/** The serials named by `events` that are not in `known` yet, sorted. */
export function newSerialsIn(known: ReadonlySet<string>, events: readonly ConsumedEvent[]): string[] {
  const fresh = new Set<string>();
  for (const { serials } of events) for (const serial of serials) if (!known.has(serial)) fresh.add(serial);
  return [...fresh].sort();
}

/**
 * Every consumed event concerning `serial` or a unit it was ever paired with: loads the events of the serials
 * known so far, adds the serials they name, and repeats until no new serial appears or `maxRounds` is reached.
 * Each event is loaded once.
 */
export async function collectEventsConcerning(
  serial: string,
  load: ConsumedEventLoader,
  maxRounds: number = AS_OF_EXPANSION_ROUNDS,
): Promise<EventEnvelope[]> {
  const known = new Set([serial]);
  const events = new Map<string, EventEnvelope>();
  let frontier = [serial];
  for (let round = 0; round < maxRounds && frontier.length > 0; round++) {
    const loaded = await load(frontier, new Set(events.keys()));
    for (const { envelope } of loaded) if (!events.has(envelope.eventId)) events.set(envelope.eventId, envelope);
    frontier = newSerialsIn(known, loaded);
    for (const s of frontier) known.add(s);
  }
  return [...events.values()];
}

/**
 * The effective set of `serial` at `at`: folds the events that occurred at or before `at` into an empty
 * projection (newest version per entity, so arrival order does not matter; they are folded in order of
 * occurrence anyway, ties kept in the given order) and computes the set against `at`. Null when the product
 * was not registered at that instant.
 */
export function effectiveSetAsOf(
  events: readonly EventEnvelope[],
  serial: string,
  at: Date,
  options: { readonly warningWindowDays?: number } = {},
): EffectiveLicenseSetV1 | null {
  const until = at.getTime();
  const inOrder = events
    .filter((e) => Date.parse(e.occurredAt) <= until)
    .sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
  return effectiveSetOf(applyEvents(emptyProjection(), inOrder).state, serial, at, options);
}
