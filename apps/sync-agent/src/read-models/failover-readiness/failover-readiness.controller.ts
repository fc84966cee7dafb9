import { Controller, Get, Inject, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  AccountFilter,
  Allow,
  Caller,
  EventStore,
  PageLimit,
  READERS,
  RuleViolation,
  cursorOf,
  listScope,
  UuidParam,
  valid,
  type Principal,
} from '#shared';
import { pairVisibleTo } from '../../facts/tenancy.js';
import type { FailoverReadinessReport } from './failover-readiness.js';
import { FailoverReadinessQuery, type AccountReadinessReport } from './failover-readiness.query.js';

/** `GET /pairs/readiness?accountId=&ready=&cursor=&limit=`. */
export const ReadinessListQuery = z.strictObject({
  accountId: AccountFilter.optional(),
  ready: z
    .enum(['true', 'false'])
    .optional()
    .meta({ description: '`false`: only pairs that are not ready (a blocking gap); `true`: only ready ones.' }),
  cursor: cursorOf(z.tuple([z.iso.datetime(), z.uuid()])).optional(),
  limit: PageLimit,
});

/**
 * GET /pairs/:pairId/failover-readiness: whether the Secondary could take over now, and every gap.
 * GET /pairs/readiness: the same for every associated pair the caller may see, a page at a time.
 * The two routes differ in their number of segments, so `readiness` is never taken for a pairId.
 */
@Controller('pairs')
export class FailoverReadinessController {
  constructor(
    @Inject(FailoverReadinessQuery) private readonly query: FailoverReadinessQuery,
    @Inject(EventStore) private readonly store: EventStore,
  ) {}

  /**
   * An operator or auditor reads every account, or the one it names; an account-scoped key reads its own (naming
   * another is 403 FORBIDDEN). Paged with `cursor` and `limit`, narrowed with `ready`.
   */
  @Get('readiness')
  @Allow(...READERS)
  async list(
    @Query(valid(ReadinessListQuery)) query: z.output<typeof ReadinessListQuery>,
    @Caller() caller: Principal,
  ): Promise<AccountReadinessReport> {
    return this.query.list({
      accountId: listScope(caller, query.accountId),
      ready: query.ready === undefined ? undefined : query.ready === 'true',
      after: query.cursor ?? null,
      limit: query.limit,
    });
  }

  @Get(':pairId/failover-readiness')
  @Allow(...READERS)
  async ofPair(@UuidParam('pairId') pairId: string, @Caller() caller: Principal): Promise<FailoverReadinessReport> {
    // Another account's pair answers exactly like one the agent does not know.
    const report = (await pairVisibleTo(this.store, caller, pairId)) ? await this.query.forPair(pairId) : null;
    if (report === null) throw new RuleViolation('PAIR_NOT_FOUND', 'not-found', `The sync agent knows no pair "${pairId}" (yet)`);
    return report;
  }
}
