import { Controller, Get, Inject, Param } from '@nestjs/common';
import { CLOCK, EventStore, RuleViolation, Serial, valid, type Clock, type EffectiveLicenseSetV1 } from '#shared';
import { effectiveSetOf } from '../../domain/effective-licenses/projection.js';
import { loadWorkingSet } from './projection-store.js';

/**
 * GET /products/:serial/effective-licenses: what the unit may use right now. Computed at read time from
 * the projected facts, so a license that expired a second ago is already gone.
 */
@Controller('products/:serial/effective-licenses')
export class EffectiveLicensesController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  async get(@Param('serial', valid(Serial, 'serial')) serial: string): Promise<EffectiveLicenseSetV1> {
    const state = await this.store.transaction((tx) => loadWorkingSet(tx, [serial]));
    const set = effectiveSetOf(state, serial, this.clock.now());
    if (!set)
      throw new RuleViolation('PRODUCT_NOT_FOUND', 'not-found', `The sync agent knows no product with serial "${serial}" (yet)`);
    return set;
  }
}
