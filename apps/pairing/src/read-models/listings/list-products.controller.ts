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
import type { ProductView } from '../../application/views.js';
import { listProducts } from './listings.query.js';

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

@Controller('products')
export class ListProductsController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  /** The caller's products (an operator's or auditor's: every account's), in serial order. */
  @Get()
  @Allow(...READERS)
  async list(
    @Query(valid(ListProductsQuery)) query: z.output<typeof ListProductsQuery>,
    @Caller() caller: Principal,
  ): Promise<Page<ProductView>> {
    const accountId = listScope(caller, query.accountId);
    return this.store.transaction((tx) =>
      listProducts(tx, { accountId, model: query.model, pairStatus: query.pairStatus }, query.cursor?.[0] ?? null, query.limit),
    );
  }
}
