import { Controller, Get, Inject, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  AccountFilter,
  Allow,
  Caller,
  EventStore,
  PageLimit,
  PlainText,
  READERS,
  Serial,
  cursorOf,
  listScope,
  valid,
  type Page,
  type Principal,
} from '#shared';
import type { PairView, ProductView } from '../../application/views.js';
import { listPairs, listProducts } from './listings.query.js';

/** `GET /products?accountId=&model=&pairStatus=&cursor=&limit=`. */
export const ListProductsQuery = z.strictObject({
  accountId: AccountFilter.optional(),
  model: PlainText({ max: 64 }).optional().meta({ description: 'Only this model, e.g. `NSA 2700`.' }),
  pairStatus: z
    .enum(['paired', 'unpaired'])
    .optional()
    .meta({ description: '`paired`: in an associated pair (either role); `unpaired`: in none.' }),
  cursor: cursorOf(z.tuple([Serial])).optional(),
  limit: PageLimit,
});

/** `GET /pairs?accountId=&status=&cursor=&limit=`. */
export const ListPairsQuery = z.strictObject({
  accountId: AccountFilter.optional(),
  status: z.enum(['associated', 'dissociated']).optional().meta({ description: 'Only pairs in this status.' }),
  cursor: cursorOf(z.tuple([z.iso.datetime(), z.uuid()])).optional(),
  limit: PageLimit,
});

/** The listings read model's pages: the caller's products and pairs (an operator's or auditor's: every account's). */
@Controller()
export class ListingsController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  /** Products in serial order. */
  @Get('products')
  @Allow(...READERS)
  async products(
    @Query(valid(ListProductsQuery)) query: z.output<typeof ListProductsQuery>,
    @Caller() caller: Principal,
  ): Promise<Page<ProductView>> {
    const accountId = listScope(caller, query.accountId);
    return this.store.transaction((tx) =>
      listProducts(tx, { accountId, model: query.model, pairStatus: query.pairStatus }, query.cursor?.[0] ?? null, query.limit),
    );
  }

  /** Pairs, newest association first. */
  @Get('pairs')
  @Allow(...READERS)
  async pairs(
    @Query(valid(ListPairsQuery)) query: z.output<typeof ListPairsQuery>,
    @Caller() caller: Principal,
  ): Promise<Page<PairView>> {
    const accountId = listScope(caller, query.accountId);
    return this.store.transaction((tx) => listPairs(tx, { accountId, status: query.status }, query.cursor ?? null, query.limit));
  }
}
