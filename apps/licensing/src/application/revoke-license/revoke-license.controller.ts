import { Controller, Delete, Inject } from '@nestjs/common';
import { RequestMetadata, EventStore, UuidParam, type CommandMetadata } from '#shared';
import { decideLicense, licenseView, type LicenseView } from '../licenses.js';

/** DELETE /licenses/:licenseId: revokes the license (on the product and on any Secondary sharing it). */
@Controller('licenses')
export class RevokeLicenseController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Delete(':licenseId')
  async revoke(@UuidParam('licenseId') licenseId: string, @RequestMetadata() metadata: CommandMetadata): Promise<LicenseView> {
    const license = await decideLicense(this.store, {
      type: 'RevokeLicense',
      data: { licenseId },
      metadata,
    });
    return licenseView(license, metadata.now);
  }
}
