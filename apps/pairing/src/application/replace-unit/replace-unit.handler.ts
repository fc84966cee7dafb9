import {
  UNIQUE_VIOLATION,
  type CommandMetadata,
  VersionConflictError,
  eventMetadataOf,
  loadState,
  sqlState,
  type EventStore,
} from '#shared';
import type { ReplaceUnit } from '../../domain/pair/pair.commands.js';
import { pairDecider } from '../../domain/pair/pair.decide.js';
import { replaceUnit } from '../../domain/pair/pair.replace.js';
import type { AssociatedPair, DissociatedPair } from '../../domain/pair/pair.state.js';
import { projectPairListing } from '../../read-models/listings/listings.projection.js';
import { activePairOf, loadProduct, pairStreamId, recordMemberships, releaseMemberships } from '../pairing-store.js';

/** What the HTTP request asks for, plus the new pair's id and the request's metadata. */
export interface ReplaceUnitRequest {
  readonly pairId: string;
  readonly newPairId: string;
  readonly failedSerial: string;
  readonly replacementSerial: string;
  readonly metadata: CommandMetadata;
}

/** Both pairs after the replacement. */
export interface ReplaceUnitResult {
  readonly newPair: AssociatedPair;
  readonly oldPair: DissociatedPair;
}

/**
 * Replaces a failed unit of a pair, in ONE transaction: read the old pair, the replacement product and
 * its membership; decide; append the new pair's ProductsAssociated (its stream must not exist yet), then
 * the old pair's ProductsDissociated (at the version read); move the pair_memberships rows from the old
 * pair to the new one. The order of the two appends is their order on the bus (the relay publishes in
 * commit order and, inside one transaction, in global position order), which is what lets the sync agent
 * hand the failed unit's licenses to the successor before the old pair ends.
 *
 * It is handleCommand's loop over two streams: a concurrent dissociation of the old pair (version
 * conflict) or association of the replacement (unique violation on pair_memberships) rolls the attempt
 * back and the next attempt decides again on what won, so it then reports PAIR_DISSOCIATED or
 * ALREADY_PAIRED. A RuleViolation reaches the caller as is, with nothing written.
 */
export async function handleReplaceUnit(
  store: EventStore,
  request: ReplaceUnitRequest,
  maxAttempts = 5,
): Promise<ReplaceUnitResult> {
  const { pairId, newPairId, failedSerial, replacementSerial, metadata } = request;
  const { now } = metadata;
  const eventMetadata = eventMetadataOf(metadata);
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.transaction(async (tx) => {
        const old = await loadState(store, pairDecider, pairStreamId(pairId), tx);
        const command: ReplaceUnit = {
          type: 'ReplaceUnit',
          data: { pairId, newPairId, failedSerial, replacementSerial },
          context: {
            replacement: await loadProduct(store, replacementSerial, tx),
            pairOfReplacement: await activePairOf(tx, replacementSerial),
          },
          metadata,
        };
        const events = replaceUnit(command, old.state);
        await store.append(tx, pairStreamId(newPairId), 0, events.newPair, { occurredAt: now, metadata: eventMetadata });
        await store.append(tx, pairStreamId(pairId), old.version, events.oldPair, { occurredAt: now, metadata: eventMetadata });
        const [associated] = events.newPair;
        const [dissociated] = events.oldPair;
        await releaseMemberships(tx, pairId);
        await recordMemberships(tx, newPairId, associated.data.primarySerial, associated.data.secondarySerial);
        const newPair = pairDecider.evolve(pairDecider.initialState, associated);
        const oldPair = pairDecider.evolve(old.state, dissociated);
        if (newPair.status !== 'associated' || oldPair.status !== 'dissociated') throw new Error('replacement folded wrongly');
        await projectPairListing(tx, oldPair);
        await projectPairListing(tx, newPair);
        return { newPair, oldPair };
      });
    } catch (error) {
      const raced = error instanceof VersionConflictError || sqlState(error) === UNIQUE_VIOLATION;
      if (!raced || attempt >= maxAttempts) throw error;
    }
  }
}
