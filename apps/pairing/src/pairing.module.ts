import { Module } from '@nestjs/common';
import { EventSigningKeysModule } from '#shared';
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
import { ListPairsController } from './read-models/listings/list-pairs.controller.js';
import { ListProductsController } from './read-models/listings/list-products.controller.js';

/** The pairing service: products and HA pairs, the API keys (HTTP), and the product and key lookups (signed NATS request/reply). */
@Module({
  imports: [EventSigningKeysModule],
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
    ListProductsController,
    ListPairsController,
  ],
  providers: [PairingResponders],
})
export class PairingModule {}
