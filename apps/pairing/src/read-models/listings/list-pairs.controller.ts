import { Controller, Get, Inject, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  AccountFilter,
  Allow,
  Caller,
  EventStore,
  PageLimit,
  READERS,
  cursorOf,
  listScope,
  valid,
  type Page,
  type Principal,
} from '#shared';
import type { PairView } from '../../application/views.js';
import { listPairs } from './listings.query.js';

/** `GET /pairs?accountId=&status=&cursor=&limit=`. */
export const ListPairsQuery = z.strictObject({
  accountId: AccountFilter.optional(),
  status: z.enum(['associated', 'dissociated']).optional().meta({ description: 'Only pairs in this status.' }),
  cursor: cursorOf(z.tuple([z.iso.datetime(), z.uuid()])).optional(),
  limit: PageLimit,
});

@Controller('pairs')
export class ListPairsController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  /** The caller's pairs (an operator's or auditor's: every account's), newest association first. */
  @Get()
  @Allow(...READERS)
  async list(
    @Query(valid(ListPairsQuery)) query: z.output<typeof ListPairsQuery>,
    @Caller() caller: Principal,
  ): Promise<Page<PairView>> {
    const accountId = listScope(caller, query.accountId);
    return this.store.transaction((tx) => listPairs(tx, { accountId, status: query.status }, query.cursor ?? null, query.limit));
  }
}
