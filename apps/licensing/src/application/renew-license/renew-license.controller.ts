import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { z } from 'zod';
import { RequestMetadata, EventStore, UuidParam, valid, type CommandMetadata } from '#shared';
import { Instant } from '../grant-license/grant-license.controller.js';
import { ExpiryScheduler } from '../expiry-scheduler/expiry-scheduler.js';
import { decideLicense, licenseView, type LicenseView } from '../licenses.js';

/** POST /licenses/:licenseId/renewals: extends the license to a later expiry. */
export const RenewLicenseBody = z.strictObject({ expiresAt: Instant });

@Controller('licenses/:licenseId/renewals')
export class RenewLicenseController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ExpiryScheduler) private readonly scheduler: ExpiryScheduler,
  ) {}

  @Post()
  @HttpCode(201)
  async renew(
    @UuidParam('licenseId') licenseId: string,
    @Body(valid(RenewLicenseBody)) body: z.infer<typeof RenewLicenseBody>,
    @RequestMetadata() metadata: CommandMetadata,
  ): Promise<LicenseView> {
    const license = await decideLicense(this.store, {
      type: 'RenewLicense',
      data: { licenseId, expiresAt: body.expiresAt },
      metadata,
    });
    // Its entry into the warning window (or its expiry) may now be due before the scheduler's planned wake-up.
    this.scheduler.nudge(license.expiresAt);
    return licenseView(license, metadata.now);
  }
}
