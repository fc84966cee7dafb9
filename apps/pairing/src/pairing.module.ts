import { Module } from '@nestjs/common';
import { ApiModule, BusModule, DatabaseModule, EventSigningKeysModule, OutboxRelayModule, type ServiceDefinition } from '#shared';
import { PAIRING_MIGRATIONS } from './infrastructure/migrations.js';
import { RegisterProductController } from './application/register-product/register-product.controller.js';
import { ViewModelsController } from './application/view-models/view-models.controller.js';
import { ChangeFirmwareController } from './application/change-firmware/change-firmware.controller.js';
import { ViewProductsController } from './application/view-products/view-products.controller.js';
import { AssociateProductsController } from './application/associate-products/associate-products.controller.js';
import { DissociateProductsController } from './application/dissociate-products/dissociate-products.controller.js';
import { ViewPairsController } from './application/view-pairs/view-pairs.controller.js';
import { ReplaceUnitController } from './application/replace-unit/replace-unit.controller.js';
import { PairHistoryController, ProductHistoryController } from './application/view-history/history.controller.js';
import { ApiKeysController } from './application/manage-api-keys/api-keys.controller.js';
import { PairingResponders } from './application/pairing-responders.js';
import { ListingsController } from './read-models/listings/listings.controller.js';

/** Pairing's configuration defaults (PAIRING_PORT 3001, database ha_pairing), its events, and its API keys. */
export const PAIRING_SERVICE: ServiceDefinition = {
  service: 'pairing',
  portVariable: 'PAIRING_PORT',
  defaultPort: 3001,
  defaultDatabase: 'ha_pairing',
  publishes: 'pairing',
  ownsApiKeys: true,
};

/**
 * The pairing service: products and pairs, the API keys (HTTP), and the product and key lookups (signed NATS
 * request/reply, PairingResponders). Its events go from the event store to the PAIRING stream through the relay.
 */
@Module({
  imports: [
    DatabaseModule.forRoot({ migrations: PAIRING_MIGRATIONS, planning: 'cached' }),
    BusModule,
    OutboxRelayModule,
    ApiModule,
    EventSigningKeysModule,
  ],
  controllers: [
    ViewModelsController,
    RegisterProductController,
    ChangeFirmwareController,
    ViewProductsController,
    ProductHistoryController,
    AssociateProductsController,
    DissociateProductsController,
    ViewPairsController,
    PairHistoryController,
    ReplaceUnitController,
    ApiKeysController,
    ListingsController,
  ],
  providers: [PairingResponders],
})
export class PairingModule {}
