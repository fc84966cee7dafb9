import { Module, type DynamicModule } from '@nestjs/common';
import { EventSigningKeysModule, type BusNames } from '#shared';
import { RegisterProductController } from './application/register-product/register-product.controller.js';
import { ChangeFirmwareController } from './application/change-firmware/change-firmware.controller.js';
import { ViewProductsController } from './application/view-products/view-products.controller.js';
import { productLookupController } from './application/view-products/product-lookup.controller.js';
import { AssociateProductsController } from './application/associate-products/associate-products.controller.js';
import { DissociateProductsController } from './application/dissociate-products/dissociate-products.controller.js';
import { ViewPairsController } from './application/view-pairs/view-pairs.controller.js';
import { ReplaceUnitController } from './application/replace-unit/replace-unit.controller.js';
import { ApiKeysController } from './application/manage-api-keys/api-keys.controller.js';
import { apiKeyLookupController } from './application/manage-api-keys/api-key-lookup.controller.js';

/** The pairing service: products and HA pairs, the API keys (HTTP), and the product and key lookups (NATS request/reply). */
@Module({})
export class PairingModule {
  static forBus(names: BusNames): DynamicModule {
    return {
      module: PairingModule,
      imports: [EventSigningKeysModule],
      controllers: [
        RegisterProductController,
        ChangeFirmwareController,
        ViewProductsController,
        AssociateProductsController,
        DissociateProductsController,
        ViewPairsController,
        ReplaceUnitController,
        productLookupController(names.productLookup),
        ApiKeysController,
        apiKeyLookupController(names.apiKeyLookup),
      ],
    };
  }
}
