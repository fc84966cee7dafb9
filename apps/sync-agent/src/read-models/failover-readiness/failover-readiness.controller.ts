import { Controller, ForbiddenException, Get, Inject, Param, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  AccountId,
  Allow,
  Caller,
  EventStore,
  READERS,
  RuleViolation,
  ValidationFailedError,
  seesEveryAccount,
  valid,
  type Principal,
} from '#shared';
import { pairVisibleTo } from '../tenancy.js';
import type { FailoverReadinessReport } from './failover-readiness.js';
import { FailoverReadinessQuery, type AccountReadinessReport } from './failover-readiness.query.js';

/**
 * GET /pairs/:pairId/failover-readiness: whether the Secondary could take over now, and every gap.
 * GET /pairs/readiness?accountId=: the same for every associated pair of an account (for operators).
 * The two routes differ in their number of segments, so `readiness` is never taken for a pairId.
 */
@Controller('pairs')
export class FailoverReadinessController {
  constructor(
    @Inject(FailoverReadinessQuery) private readonly query: FailoverReadinessQuery,
    @Inject(EventStore) private readonly store: EventStore,
  ) {}

  /** An operator or auditor names the account; an account-scoped key reads its own (naming another is 403 FORBIDDEN). */
  @Get('readiness')
  @Allow(...READERS)
  async ofAccount(
    @Query('accountId', valid(AccountId.optional(), 'accountId')) requested: string | undefined,
    @Caller() caller: Principal,
  ): Promise<AccountReadinessReport> {
    if (seesEveryAccount(caller)) {
      if (requested === undefined) throw new ValidationFailedError([{ field: 'accountId', message: 'is required' }]);
      return this.query.forAccount(requested);
    }
    if (caller.accountId === null) throw new Error('an account-scoped key without an account');
    if (requested !== undefined && requested !== caller.accountId)
      throw new ForbiddenException({ code: 'FORBIDDEN', message: 'This key reads its own account only.' });
    return this.query.forAccount(caller.accountId);
  }

  @Get(':pairId/failover-readiness')
  @Allow(...READERS)
  async ofPair(
    @Param('pairId', valid(z.uuid('must be a UUID'), 'pairId')) pairId: string,
    @Caller() caller: Principal,
  ): Promise<FailoverReadinessReport> {
    // Another account's pair answers exactly like one the agent does not know.
    const report = (await pairVisibleTo(this.store, caller, pairId)) ? await this.query.forPair(pairId) : null;
    if (report === null) throw new RuleViolation('PAIR_NOT_FOUND', 'not-found', `The sync agent knows no pair "${pairId}" (yet)`);
    return report;
  }
}
