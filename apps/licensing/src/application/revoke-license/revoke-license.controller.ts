import { Controller, Delete, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import { RequestMetadata, EventStore, valid, type CommandMetadata } from '#shared';
import { decideLicense, licenseView, type LicenseView } from '../licenses.js';

/** DELETE /licenses/:licenseId: revokes the license (on the product and on any Secondary sharing it). */
@Controller('licenses')
export class RevokeLicenseController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Delete(':licenseId')
  async revoke(
    @Param('licenseId', valid(z.uuid('must be a UUID'), 'licenseId')) licenseId: string,
    @RequestMetadata() metadata: CommandMetadata,
  ): Promise<LicenseView> {
    const license = await decideLicense(this.store, {
      type: 'RevokeLicense',
      data: { licenseId },
      metadata,
    });
    return licenseView(license, metadata.now);
  }
}
