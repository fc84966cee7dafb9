import { Controller, Get, Inject, Query } from '@nestjs/common';
import { z } from 'zod';
import { Allow, Caller, EventStore, READERS, RuleViolation, SerialParam, valid, type Principal } from '#shared';
import { productVisibleTo } from '../../facts/tenancy.js';
import { isKnownProduct, readHistoryPage, type EffectiveLicensesHistoryPage } from './effective-licenses-history.query.js';

/** `?limit=1..500` (default 50) and `?after=<version>` (default 0: from the first change). */
export const HistoryQuery = z.strictObject({
  limit: z.coerce.number().int('must be a whole number').min(1, 'must be 1-500').max(500, 'must be 1-500').default(50),
  after: z.coerce.number().int('must be a whole number').min(0, 'must be 0 or more').default(0),
});

/**
 * GET /products/:serial/effective-licenses/history: every change of the product's effective set, oldest
 * first, with its time, cause and the SKUs added, removed or changed; paginated by stream version.
 */
@Controller('products/:serial/effective-licenses/history')
export class EffectiveLicensesHistoryController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Get()
  @Allow(...READERS)
  async get(
    @SerialParam() serial: string,
    @Query(valid(HistoryQuery)) query: z.infer<typeof HistoryQuery>,
    @Caller() caller: Principal,
  ): Promise<EffectiveLicensesHistoryPage> {
    const visible = await productVisibleTo(this.store, caller, serial);
    return this.store.transaction(async (tx) => {
      // Another account's product answers exactly like one the agent does not know.
      if (!visible || !(await isKnownProduct(tx, serial)))
        throw new RuleViolation(
          'PRODUCT_NOT_FOUND',
          'not-found',
          `The sync agent knows no product with serial "${serial}" (yet)`,
        );
      return readHistoryPage(tx, serial, query.after, query.limit);
    });
  }
}
