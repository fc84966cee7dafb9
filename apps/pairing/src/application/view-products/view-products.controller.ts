import { Controller, Get, Inject } from '@nestjs/common';
import { Allow, Caller, EventStore, READERS, canAccess, SerialParam, type Principal } from '#shared';
import { productNotFound } from '../../domain/product/product.errors.js';
import { activePairOf, loadProduct } from '../pairing-store.js';
import { productView, type ProductView } from '../views.js';

/** Reads a product from its stream, so a product registered a moment ago is always found. */
export async function findProduct(store: EventStore, serial: string): Promise<ProductView | null> {
  return store.transaction(async (tx) => {
    const product = await loadProduct(store, serial, tx);
    return product ? productView(product, await activePairOf(tx, serial)) : null;
  });
}

@Controller('products')
export class ViewProductsController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Get(':serial')
  @Allow(...READERS)
  async get(@SerialParam() serial: string, @Caller() caller: Principal): Promise<ProductView> {
    const product = await findProduct(this.store, serial);
    // Another account's product answers exactly like an unknown serial.
    if (!product || !canAccess(caller, product.accountId)) throw productNotFound(serial);
    return product;
  }
}
