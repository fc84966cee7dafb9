import { Controller, Delete, Headers, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import { CLOCK, Caller, EventStore, valid, type Clock, type Principal } from '#shared';
import { decideLicense, licenseView, type LicenseView } from '../licenses.js';

/** DELETE /licenses/:licenseId: revokes the license (on the product and on any Secondary sharing it). */
@Controller('licenses')
export class RevokeLicenseController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Delete(':licenseId')
  async revoke(
    @Param('licenseId', valid(z.uuid('must be a UUID'), 'licenseId')) licenseId: string,
    @Caller() caller: Principal,
    @Headers('x-correlation-id') correlationId?: string,
  ): Promise<LicenseView> {
    const now = this.clock.now();
    const license = await decideLicense(this.store, {
      type: 'RevokeLicense',
      data: { licenseId },
      metadata: { now, correlationId, actor: caller.keyId },
    });
    return licenseView(license, now);
  }
}
