import { Controller, Get, Inject, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  Allow,
  CLOCK,
  Caller,
  READERS,
  EventStore,
  RuleViolation,
  SerialParam,
  SERVICE_CONFIG,
  ValidationFailedError,
  valid,
  type Clock,
  type EffectiveLicenseSetV1,
  type Principal,
  type ServiceConfig,
} from '#shared';
import { effectiveSetOf } from '../../domain/effective-licenses/projection.js';
import { loadWorkingSet } from '../../facts/facts-store.js';
import { effectiveSetAt } from '../../facts/inbox.js';
import { productVisibleTo } from '../../facts/tenancy.js';

/** `?at=`: an ISO-8601 instant with its offset (`Z` or `±hh:mm`). */
export const AsOfInstant = z.iso.datetime({
  offset: true,
  error: 'must be an ISO-8601 instant with an offset, e.g. 2025-06-01T12:00:00Z',
});

/**
 * GET /products/:serial/effective-licenses: what the unit may use right now, computed at read time from the
 * projected facts (so a license that expired a second ago is already gone).
 * With `?at=<instant>`: what it could use at that past instant, folded from the consumed events.
 */
@Controller('products/:serial/effective-licenses')
export class EffectiveLicensesController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @Allow(...READERS)
  async get(
    @SerialParam() serial: string,
    @Query('at', valid(AsOfInstant.optional(), 'at')) at: string | undefined,
    @Caller() caller: Principal,
  ): Promise<EffectiveLicenseSetV1> {
    // Another account's product answers exactly like one the agent does not know.
    if (!(await productVisibleTo(this.store, caller, serial))) notFound(serial, 'yet');
    const now = this.clock.now();
    const options = { warningWindowDays: this.config.expiryWarningDays };
    if (at === undefined) {
      const state = await this.store.transaction((tx) => loadWorkingSet(tx, [serial]));
      return effectiveSetOf(state, serial, now, options) ?? notFound(serial, 'yet');
    }
    const instant = new Date(at);
    if (instant.getTime() > now.getTime())
      throw new ValidationFailedError([{ field: 'at', message: 'must not be in the future' }]);
    const set = await this.store.transaction(async (tx) => {
      // One snapshot for every round of loading, so that the events read belong to one committed state.
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return effectiveSetAt(tx, serial, instant, options);
    });
    return set ?? notFound(serial, `at ${instant.toISOString()}`);
  }
}

function notFound(serial: string, when: string): never {
  throw new RuleViolation('PRODUCT_NOT_FOUND', 'not-found', `The sync agent knows no product with serial "${serial}" (${when})`);
}
