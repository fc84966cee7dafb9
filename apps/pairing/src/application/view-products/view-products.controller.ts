import { Controller, Get, Inject, Param } from '@nestjs/common';
import { EventStore, Serial, valid } from '#shared';
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
  async get(@Param('serial', valid(Serial, 'serial')) serial: string): Promise<ProductView> {
    const product = await findProduct(this.store, serial);
    if (!product) throw productNotFound(serial);
    return product;
  }
}
