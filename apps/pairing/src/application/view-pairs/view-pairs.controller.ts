import { Controller, Get, Inject } from '@nestjs/common';
import { Allow, Caller, EventStore, READERS, canAccess, UuidParam, type Principal } from '#shared';
import { pairNotFound } from '../../domain/pair/pair.errors.js';
import { loadPair } from '../pairing-store.js';
import { pairView, type PairView } from '../views.js';

@Controller('pairs')
export class ViewPairsController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Get(':pairId')
  @Allow(...READERS)
  async get(@UuidParam('pairId') pairId: string, @Caller() caller: Principal): Promise<PairView> {
    const pair = await loadPair(this.store, pairId);
    // Another account's pair answers exactly like an unknown id.
    if (pair.status === 'none' || !canAccess(caller, pair.accountId)) throw pairNotFound(pairId);
    return pairView(pair);
  }
}
