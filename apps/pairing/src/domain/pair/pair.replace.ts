import { assertNever } from '#shared/contracts';
import type { ReplaceUnit } from './pair.commands.js';
import { dissociationOf } from './pair.decide.js';
import {
  accountMismatch,
  alreadyPaired,
  modelMismatch,
  pairDissociated,
  pairNotFound,
  productNotFound,
  replacementInPair,
  unitNotInPair,
} from './pair.errors.js';
import type { ProductsAssociated, ProductsDissociated } from './pair.events.js';
import type { AssociatedPair, PairState, PairReplacement } from './pair.state.js';

/**
 * What a replacement appends, per stream. The handler appends `newPair` (to `pair-<newPairId>`, which must
 * not exist) before `oldPair` (to `pair-<pairId>`, at the version it read), in one transaction: a consumer
 * that applies the events in order then sees the successor take over before the old pair ends, so at no
 * instant is the failed unit's share neither in the old pair nor in the new one.
 */
export interface ReplacementEvents {
  readonly newPair: [ProductsAssociated];
  readonly oldPair: [ProductsDissociated];
}

/**
 * Decides a replacement on the old pair's state, or throws the RuleViolation of the rule it breaks.
 * If the Primary failed, the old Secondary becomes the Primary and takes over the failed unit's licenses
 * (it is the successor) and the replacement becomes the Secondary. If the Secondary failed, the Primary
 * stays and the replacement becomes the Secondary and the successor.
 *
 * The order of the checks is part of the contract: the pair first, then the failed unit, then the
 * replacement (who it is, whether it exists, whether it fits, whether it is free).
 */
export function replaceUnit({ data, context, metadata }: ReplaceUnit, state: PairState): ReplacementEvents {
  const pair = activePair(state, data.pairId);
  const { pairId, newPairId, failedSerial, replacementSerial } = data;
  if (failedSerial !== pair.primarySerial && failedSerial !== pair.secondarySerial) throw unitNotInPair(failedSerial, pairId);
  if (replacementSerial === pair.primarySerial || replacementSerial === pair.secondarySerial) {
    throw replacementInPair(replacementSerial, pairId);
  }
  const { replacement, pairOfReplacement } = context;
  if (!replacement) throw productNotFound(replacementSerial);
  if (replacement.model !== pair.model) throw modelMismatch('replacement', pair.model, replacement.model);
  if (replacement.accountId !== pair.accountId) throw accountMismatch('replacement', pair.accountId, replacement.accountId);
  if (pairOfReplacement !== null) throw alreadyPaired(replacementSerial, pairOfReplacement);

  const primaryFailed = failedSerial === pair.primarySerial;
  const primarySerial = primaryFailed ? pair.secondarySerial : pair.primarySerial;
  const successorSerial = primaryFailed ? pair.secondarySerial : replacementSerial;
  const replaces: PairReplacement = { pairId, failedSerial, replacementSerial, successorSerial };
  return {
    newPair: [
      {
        type: 'ProductsAssociated',
        data: {
          pairId: newPairId,
          primarySerial,
          secondarySerial: replacementSerial,
          model: pair.model,
          accountId: pair.accountId,
          associatedAt: metadata.now.toISOString(),
          replaces,
        },
      },
    ],
    oldPair: [{ type: 'ProductsDissociated', data: dissociationOf(pair, metadata.now, newPairId) }],
  };
}

function activePair(state: PairState, pairId: string): AssociatedPair {
  switch (state.status) {
    case 'none':
      throw pairNotFound(pairId);
    case 'dissociated':
      throw pairDissociated(pairId);
    case 'associated':
      return state;
    default:
      return assertNever(state, 'pair state');
  }
}
