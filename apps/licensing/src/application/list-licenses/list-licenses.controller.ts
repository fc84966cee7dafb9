import { Controller, Get, Inject, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  AccountFilter,
  Allow,
  CLOCK,
  Caller,
  EventStore,
  PageLimit,
  PlainText,
  READERS,
  cursorOf,
  listScope,
  valid,
  type Clock,
  type Page,
  type Principal,
} from '#shared';
import { Instant } from '../grant-license/grant-license.controller.js';
import type { LicenseView } from '../licenses.js';
import { listLicenses } from './list-licenses.query.js';

/** `GET /licenses?accountId=&sku=&status=&expiresBefore=&cursor=&limit=`. */
export const ListLicensesQuery = z.strictObject({
  accountId: AccountFilter.optional(),
  sku: PlainText({ max: 64 }).optional().meta({ description: 'Only this SKU, e.g. `GATEWAY_AV`.' }),
  status: z
    .enum(['active', 'expired', 'revoked'])
    .optional()
    .meta({ description: 'Only licenses with this status now (`expired` is computed against the clock).' }),
  expiresBefore: Instant.optional().meta({
    description: 'Only licenses whose expiry is before this instant (never a perpetual one), e.g. now + 90 days.',
  }),
  cursor: cursorOf(z.tuple([z.union([z.iso.datetime(), z.literal('infinity')]), z.uuid()])).optional(),
  limit: PageLimit,
});

@Controller('licenses')
export class ListLicensesController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The caller's licenses (an operator's or auditor's: every account's), soonest expiry first. */
  @Get()
  @Allow(...READERS)
  async list(
    @Query(valid(ListLicensesQuery)) query: z.output<typeof ListLicensesQuery>,
    @Caller() caller: Principal,
  ): Promise<Page<LicenseView>> {
    const accountId = listScope(caller, query.accountId);
    const now = this.clock.now();
    return this.store.transaction((tx) =>
      listLicenses(
        tx,
        { accountId, sku: query.sku, status: query.status, expiresBefore: query.expiresBefore },
        query.cursor ?? null,
        query.limit,
        now,
      ),
    );
  }
}
