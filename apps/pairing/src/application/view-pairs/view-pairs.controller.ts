import { Controller, Get, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import { EventStore, valid } from '#shared';
import { pairNotFound } from '../../domain/ha-pair/ha-pair.errors.js';
import { loadPair } from '../pairing-store.js';
import { pairView, type PairView } from '../views.js';

@Controller('pairs')
export class ViewPairsController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Get(':pairId')
  async get(@Param('pairId', valid(z.uuid('must be a UUID'), 'pairId')) pairId: string): Promise<PairView> {
    const pair = await loadPair(this.store, pairId);
    if (pair.status === 'none') throw pairNotFound(pairId);
    return pairView(pair);
  }
}
