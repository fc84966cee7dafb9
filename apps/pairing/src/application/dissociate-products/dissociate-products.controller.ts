import { Controller, Delete, Headers, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import { ACCOUNT_WRITERS, Allow, CLOCK, Caller, EventStore, handleCommand, valid, type Clock, type Principal } from '#shared';
import { ensurePairVisible } from '../tenancy.js';
import { pairDecider } from '../../domain/pair/pair.decide.js';
import { pairStreamId, releaseMemberships } from '../pairing-store.js';
import { projectPairListing } from '../../read-models/listings/listings.projection.js';
import { pairView, type PairView } from '../views.js';

/** DELETE /pairs/:pairId: the two products stop sharing licenses; both may be paired again. */
@Controller('pairs')
export class DissociateProductsController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Delete(':pairId')
  @Allow(...ACCOUNT_WRITERS)
  async dissociate(
    @Param('pairId', valid(z.uuid('must be a UUID'), 'pairId')) pairId: string,
    @Caller() caller: Principal,
    @Headers('x-correlation-id') correlationId?: string,
  ): Promise<PairView> {
    await ensurePairVisible(this.store, pairId, caller);
    const { state } = await handleCommand({
      store: this.store,
      decider: pairDecider,
      streamId: pairStreamId(pairId),
      command: {
        type: 'DissociateProducts',
        data: { pairId },
        metadata: { now: this.clock.now(), correlationId, actor: caller.keyId },
      },
      afterAppend: async (tx, _events, pair) => {
        await releaseMemberships(tx, pairId);
        await projectPairListing(tx, pair);
      },
    });
    if (state.status === 'none') throw new Error('dissociation of a missing pair');
    return pairView(state);
  }
}
