import { Module } from '@nestjs/common';
import { RegisterProductController } from './application/register-product/register-product.controller.js';
import { ChangeFirmwareController } from './application/change-firmware/change-firmware.controller.js';
import { ViewProductsController } from './application/view-products/view-products.controller.js';
import { ProductLookupResponder } from './application/view-products/product-lookup.responder.js';
import { AssociateProductsController } from './application/associate-products/associate-products.controller.js';
import { DissociateProductsController } from './application/dissociate-products/dissociate-products.controller.js';
import { ViewPairsController } from './application/view-pairs/view-pairs.controller.js';

/** The pairing service: products and HA pairs. */
@Module({
  controllers: [
    RegisterProductController,
    ChangeFirmwareController,
    ViewProductsController,
    AssociateProductsController,
    DissociateProductsController,
    ViewPairsController,
  ],
  providers: [ProductLookupResponder],
})
export class PairingModule {}
