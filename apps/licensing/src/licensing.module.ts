import { Logger, Module } from '@nestjs/common';
import { CLOCK, DeadLettersModule, EventSigningKeysModule, EventStore, ServiceRuntime, type Clock } from '#shared';
import { ProductDirectory } from './application/product-directory.js';
import { ExpiryScheduler } from './application/expiry-scheduler/expiry-scheduler.js';
import { GrantLicenseController } from './application/grant-license/grant-license.controller.js';
import { LicenseHistoryController } from './application/license-history/license-history.controller.js';
import { RenewLicenseController } from './application/renew-license/renew-license.controller.js';
import { RevokeLicenseController } from './application/revoke-license/revoke-license.controller.js';
import { LicenseTransfers } from './application/transfer-licenses/license-transfers.js';
import { ViewLicensesController } from './application/view-licenses/view-licenses.controller.js';
import { LicenseAccounts } from './application/list-licenses/license-accounts.js';
import { ListLicensesController } from './application/list-licenses/list-licenses.controller.js';
import { ViewCatalogController } from './application/view-catalog/view-catalog.controller.js';

/** The licensing service: licenses per product, their expiry scheduler, and transfers on replacement. */
@Module({
  imports: [DeadLettersModule, EventSigningKeysModule],
  controllers: [
    GrantLicenseController,
    RenewLicenseController,
    RevokeLicenseController,
    ViewLicensesController,
    LicenseHistoryController,
    ViewCatalogController,
    ListLicensesController,
  ],
  providers: [
    ProductDirectory,
    LicenseTransfers,
    LicenseAccounts,
    {
      provide: ExpiryScheduler,
      inject: [EventStore, CLOCK, ServiceRuntime],
      useFactory: (store: EventStore, clock: Clock, runtime: ServiceRuntime) => {
        const logger = new Logger('ExpiryScheduler');
        return new ExpiryScheduler(store, clock, {
          windowDays: runtime.config.expiryWarningDays,
          log: (message) => logger.log(message),
        });
      },
    },
  ],
})
export class LicensingModule {}
