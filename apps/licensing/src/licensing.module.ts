import { Module } from '@nestjs/common';
import { ProductDirectory } from './application/product-directory.js';
import { GrantLicenseController } from './application/grant-license/grant-license.controller.js';
import { RenewLicenseController } from './application/renew-license/renew-license.controller.js';
import { RevokeLicenseController } from './application/revoke-license/revoke-license.controller.js';
import { ViewLicensesController } from './application/view-licenses/view-licenses.controller.js';
import { ViewCatalogController } from './application/view-catalog/view-catalog.controller.js';

/** The licensing service: licenses per product. */
@Module({
  controllers: [
    GrantLicenseController,
    RenewLicenseController,
    RevokeLicenseController,
    ViewLicensesController,
    ViewCatalogController,
  ],
  providers: [ProductDirectory],
})
export class LicensingModule {}
