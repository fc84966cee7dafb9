import { handleCommand, type EventStore, type Tx } from '#shared';
import type { AssociateProducts, PairCommand } from '../domain/pair/pair.commands.js';
import { pairDecider } from '../domain/pair/pair.decide.js';
import type { PairState } from '../domain/pair/pair.state.js';
import type { ProductCommand } from '../domain/product/product.commands.js';
import { productDecider } from '../domain/product/product.decide.js';
import type { RegisteredProduct } from '../domain/product/product.state.js';
import { projectPairListing, projectProductListing } from '../read-models/listings/listings.projection.js';
import { pairStreamId, productStreamId } from './pairing-store.js';

/**
 * The steps the API's product commands (register, change firmware) share: decide on the product's stream, run the
 * command's own writes (`alsoIn`) and keep its listing row in step in the same transaction, and resolve with the
 * product after it (a command the decider accepts always leaves it registered).
 */
export async function decideProduct(
  store: EventStore,
  command: ProductCommand,
  alsoIn?: (tx: Tx) => Promise<void>,
): Promise<RegisteredProduct> {
  const { state } = await handleCommand({
    store,
    decider: productDecider,
    streamId: productStreamId(command.data.serial),
    command,
    afterAppend: async (tx, _events, product) => {
      await alsoIn?.(tx);
      await projectProductListing(tx, product);
    },
  });
  if (state.status !== 'registered') throw new Error(`${command.type} left product "${command.data.serial}" unregistered`);
  return state;
}

/**
 * The steps the API's pair commands (associate, dissociate) share: decide on the pair's stream (a command made inside
 * the transaction reads its facts there), write the pair's memberships (`alsoIn`) and keep its listing row in step in
 * the same transaction, and resolve with the pair after it.
 */
export async function decidePair(
  store: EventStore,
  pairId: string,
  command: PairCommand | ((tx: Tx) => Promise<AssociateProducts>),
  alsoIn: (tx: Tx) => Promise<void>,
): Promise<Exclude<PairState, { status: 'none' }>> {
  const { state } = await handleCommand({
    store,
    decider: pairDecider,
    streamId: pairStreamId(pairId),
    command,
    afterAppend: async (tx, _events, pair) => {
      await alsoIn(tx);
      await projectPairListing(tx, pair);
    },
  });
  if (state.status === 'none') throw new Error(`a pair command left pair "${pairId}" without a pair`);
  return state;
}
