import { assertNever, decideByType, type Decider } from '#shared/contracts';
import type { AssociateProducts, DissociateProducts, PairCommand } from './pair.commands.js';
import {
  accountMismatch,
  alreadyPaired,
  modelMismatch,
  pairAlreadyExists,
  pairDissociated,
  pairNotFound,
  productNotFound,
  sameProduct,
} from './pair.errors.js';
import type { PairEvent, ProductsDissociated } from './pair.events.js';
import { evolve, initialState, type AssociatedPair, type PairState } from './pair.state.js';

/** Turns a pair command into events, or throws the RuleViolation of the rule it breaks. */
export const decide = decideByType<PairCommand, PairEvent, PairState>('pair command', {
  AssociateProducts: associateProducts,
  DissociateProducts: dissociateProducts,
});

// The order of the checks is part of the contract: callers see the most fundamental problem first.
function associateProducts({ data, context, metadata }: AssociateProducts, state: PairState): PairEvent[] {
  const { pairId, primarySerial, secondarySerial } = data;
  if (primarySerial === secondarySerial) throw sameProduct(primarySerial);
  const { primary, secondary, pairOfPrimary, pairOfSecondary } = context;
  if (!primary) throw productNotFound(primarySerial);
  if (!secondary) throw productNotFound(secondarySerial);
  if (primary.model !== secondary.model) throw modelMismatch('association', primary.model, secondary.model);
  if (primary.accountId !== secondary.accountId) throw accountMismatch('association', primary.accountId, secondary.accountId);
  if (pairOfPrimary !== null) throw alreadyPaired(primarySerial, pairOfPrimary);
  if (pairOfSecondary !== null) throw alreadyPaired(secondarySerial, pairOfSecondary);
  if (state.status !== 'none') throw pairAlreadyExists(pairId);
  return [
    {
      type: 'ProductsAssociated',
      data: {
        pairId,
        primarySerial,
        secondarySerial,
        model: primary.model,
        accountId: primary.accountId,
        associatedAt: metadata.now.toISOString(),
        replaces: null,
      },
    },
  ];
}

function dissociateProducts({ data, metadata }: DissociateProducts, state: PairState): PairEvent[] {
  switch (state.status) {
    case 'none':
      throw pairNotFound(data.pairId);
    case 'dissociated':
      throw pairDissociated(data.pairId);
    case 'associated': {
      return [{ type: 'ProductsDissociated', data: dissociationOf(state, metadata.now, null) }];
    }
    default:
      return assertNever(state, 'pair state');
  }
}

/** The full state of a pair as it ends at `now`; `replacedBy` names the pair that replaced it, if any. */
export function dissociationOf(pair: AssociatedPair, now: Date, replacedBy: string | null): ProductsDissociated['data'] {
  const { pairId, primarySerial, secondarySerial, model, accountId, associatedAt, replaces } = pair;
  return {
    pairId,
    primarySerial,
    secondarySerial,
    model,
    accountId,
    associatedAt,
    replaces,
    dissociatedAt: now.toISOString(),
    replacedBy,
  };
}

/** The pair aggregate (stream `pair-<pairId>`) as a decider. */
export const pairDecider: Decider<PairCommand, PairEvent, PairState> = {
  initialState,
  decide,
  evolve,
};
