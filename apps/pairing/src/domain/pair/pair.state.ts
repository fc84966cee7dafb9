import { assertNever, type PairReplacementV1 } from '#shared/contracts';
import type { PairEvent } from './pair.events.js';

/** Which pair a pair replaced, which unit failed, and which unit took over the failed unit's licenses. */
export type PairReplacement = PairReplacementV1;

/** What an active pair is: two products of one model and account, and when they were paired. */
export type AssociatedPair = {
  readonly status: 'associated';
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly model: string;
  readonly accountId: string;
  readonly associatedAt: string;
  /** Set when the pair was formed by replacing a failed unit of another pair; null for a plain association. */
  readonly replaces: PairReplacement | null;
};

/** A pair that was broken up; kept so the pair id cannot be reused. */
export type DissociatedPair = Omit<AssociatedPair, 'status'> & {
  readonly status: 'dissociated';
  readonly dissociatedAt: string;
  /** The pair that took over when this one ended because a unit was replaced; null for a plain dissociation. */
  readonly replacedBy: string | null;
};

/** The state of one pair stream, folded from its events. */
export type PairState = { readonly status: 'none' } | AssociatedPair | DissociatedPair;

export const initialState: PairState = { status: 'none' };

export function evolve(_state: PairState, event: PairEvent): PairState {
  // Both events carry the whole pair, so the new state is read from the event alone. Events stored before
  // replacements existed lack `replaces` / `replacedBy`; they read as null.
  switch (event.type) {
    case 'ProductsAssociated': {
      const { pairId, primarySerial, secondarySerial, model, accountId, associatedAt, replaces } = event.data;
      return {
        status: 'associated',
        pairId,
        primarySerial,
        secondarySerial,
        model,
        accountId,
        associatedAt,
        replaces: replaces ?? null,
      };
    }
    case 'ProductsDissociated': {
      const { pairId, primarySerial, secondarySerial, model, accountId, associatedAt, replaces, dissociatedAt, replacedBy } =
        event.data;
      return {
        status: 'dissociated',
        pairId,
        primarySerial,
        secondarySerial,
        model,
        accountId,
        associatedAt,
        replaces: replaces ?? null,
        dissociatedAt,
        replacedBy: replacedBy ?? null,
      };
    }
    default:
      return assertNever(event, 'pair event');
  }
}
