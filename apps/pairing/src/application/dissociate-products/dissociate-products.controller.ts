import { Controller, Delete, Inject } from '@nestjs/common';
import {
  ACCOUNT_WRITERS,
  Allow,
  Caller,
  RequestMetadata,
  EventStore,
  UuidParam,
  type CommandMetadata,
  type Principal,
} from '#shared';
import { ensurePairVisible } from '../tenancy.js';
import { decidePair } from '../pairing-commands.js';
import { releaseMemberships } from '../pairing-store.js';
import { pairView, type PairView } from '../views.js';

/** DELETE /pairs/:pairId: the two products stop sharing licenses; both may be paired again. */
@Controller('pairs')
export class DissociateProductsController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Delete(':pairId')
  @Allow(...ACCOUNT_WRITERS)
  async dissociate(
    @UuidParam('pairId') pairId: string,
    @Caller() caller: Principal,
    @RequestMetadata() metadata: CommandMetadata,
  ): Promise<PairView> {
    await ensurePairVisible(this.store, pairId, caller);
    const pair = await decidePair(this.store, pairId, { type: 'DissociateProducts', data: { pairId }, metadata }, (tx) =>
      releaseMemberships(tx, pairId),
    );
    return pairView(pair);
  }
}
