import { Inject, Logger, Module, type OnModuleInit } from '@nestjs/common';
import {
  ApiModule,
  BusModule,
  CLOCK,
  ConsumerModule,
  DatabaseModule,
  EventSigningKeysModule,
  EventStore,
  OutboxRelayModule,
  SERVICE_CONFIG,
  ServiceLifecycle,
  type Clock,
  type ServiceConfig,
  type ServiceDefinition,
} from '#shared';
import { LICENSING_MIGRATIONS } from './infrastructure/migrations.js';
import { ProductDirectory } from './application/product-directory.js';
import { ExpiryScheduler } from './application/expiry-scheduler/expiry-scheduler.js';
import { GrantLicenseController } from './application/grant-license/grant-license.controller.js';
import { LicenseHistoryController } from './application/license-history/license-history.controller.js';
import { RenewLicenseController } from './application/renew-license/renew-license.controller.js';
import { RevokeLicenseController } from './application/revoke-license/revoke-license.controller.js';
import { LicenseTransfers } from './application/transfer-licenses/license-transfers.js';
import { licensingConsumers } from './application/transfer-licenses/transfer-consumers.js';
import { ViewLicensesController } from './application/view-licenses/view-licenses.controller.js';
import { LicenseAccounts } from './application/list-licenses/license-accounts.js';
import { ListLicensesController } from './application/list-licenses/list-licenses.controller.js';
import { ViewCatalogController } from './application/view-catalog/view-catalog.controller.js';

/** Licensing's configuration defaults (LICENSING_PORT 3002, database ha_licensing) and its events. */
export const LICENSING_SERVICE: ServiceDefinition = {
  service: 'licensing',
  portVariable: 'LICENSING_PORT',
  defaultPort: 3002,
  defaultDatabase: 'ha_licensing',
  publishes: 'licensing',
};

/**
 * The licensing service: licenses per product, their expiry scheduler, and transfers on replacement. Its events go
 * from the event store to the LICENSING stream through the relay; it consumes pairing's, applied by LicenseTransfers.
 */
@Module({
  imports: [
    DatabaseModule.forRoot({ migrations: LICENSING_MIGRATIONS, planning: 'cached' }),
    BusModule,
    OutboxRelayModule,
    ApiModule,
    EventSigningKeysModule,
    // Pairing's replacements move the failed unit's licenses to its successor.
    ConsumerModule.forFeature({ sources: ['pairing'], consumers: licensingConsumers, handler: LicenseTransfers }),
  ],
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
    LicenseAccounts,
    {
      provide: ExpiryScheduler,
      inject: [EventStore, CLOCK, SERVICE_CONFIG],
      useFactory: (store: EventStore, clock: Clock, config: ServiceConfig) => {
        const logger = new Logger('ExpiryScheduler');
        return new ExpiryScheduler(store, clock, {
          windowDays: config.expiryWarningDays,
          log: (message) => logger.log(message),
        });
      },
    },
  ],
})
export class LicensingModule implements OnModuleInit {
  constructor(
    @Inject(ServiceLifecycle) private readonly lifecycle: ServiceLifecycle,
    @Inject(ExpiryScheduler) private readonly scheduler: ExpiryScheduler,
    @Inject(LicenseAccounts) private readonly accounts: LicenseAccounts,
  ) {}

  onModuleInit(): void {
    // Both stop in their own shutdown hooks, before the database closes.
    this.lifecycle.whenConnected(() => this.scheduler.start());
    // Licenses granted before licenses_view recorded accounts get theirs from pairing.
    this.lifecycle.whenConnected(() => this.accounts.start());
  }
}
