import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { z } from 'zod';
import { RuleViolation, valid } from '#shared';
import type { FailoverReadinessReport } from './failover-readiness.js';
import { FailoverReadinessQuery, type AccountReadinessReport } from './failover-readiness.query.js';

/**
 * GET /pairs/:pairId/failover-readiness: whether the Secondary could take over now, and every gap.
 * GET /pairs/readiness?accountId=: the same for every associated pair of an account (for operators).
 * The two routes differ in their number of segments, so `readiness` is never taken for a pairId.
 */
@Controller('pairs')
export class FailoverReadinessController {
  constructor(@Inject(FailoverReadinessQuery) private readonly query: FailoverReadinessQuery) {}

  @Get('readiness')
  async ofAccount(
    @Query('accountId', valid(z.string({ error: 'is required' }).min(1, 'is required'), 'accountId')) accountId: string,
  ): Promise<AccountReadinessReport> {
    return this.query.forAccount(accountId);
  }

  @Get(':pairId/failover-readiness')
  async ofPair(@Param('pairId', valid(z.uuid('must be a UUID'), 'pairId')) pairId: string): Promise<FailoverReadinessReport> {
    const report = await this.query.forPair(pairId);
    if (report === null) throw new RuleViolation('PAIR_NOT_FOUND', 'not-found', `The sync agent knows no pair "${pairId}" (yet)`);
    return report;
  }
}
