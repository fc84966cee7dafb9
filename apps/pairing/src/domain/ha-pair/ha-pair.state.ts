import { assertNever } from '#shared/contracts';
import type { HaPairEvent } from './ha-pair.events.js';

/** What an active pair is: two products of one model and account, and when they were paired. */
export type AssociatedPair = {
  readonly status: 'associated';
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly model: string;
  readonly accountId: string;
  readonly associatedAt: string;
};

/** A pair that was broken up; kept so the pair id cannot be reused. */
export type DissociatedPair = Omit<AssociatedPair, 'status'> & {
  readonly status: 'dissociated';
  readonly dissociatedAt: string;
};

/** The state of one pair stream, folded from its events. */
export type HaPairState = { readonly status: 'none' } | AssociatedPair | DissociatedPair;

export const initialState: HaPairState = { status: 'none' };

export function evolve(_state: HaPairState, event: HaPairEvent): HaPairState {
  // Both events carry the whole pair, so the new state is read from the event alone.
  switch (event.type) {
    case 'ProductsAssociated':
      return { ...event.data, status: 'associated' };
    case 'ProductsDissociated':
      return { ...event.data, status: 'dissociated' };
    default:
      return assertNever(event, 'pair event');
  }
}
