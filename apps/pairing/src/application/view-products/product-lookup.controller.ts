import { Controller, Inject, type Type } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { EventStore, ProductLookupRequestV1, valid, type ProductLookupReplyV1 } from '#shared';
import { findProduct } from './view-products.controller.js';

/**
 * Answers "does this product exist, and what is it?" over core-NATS request/reply (Nest's NATS
 * transport), from the event store, so licensing sees a product the moment its registration returned 201.
 * Built per subject because the subject carries the deployment's bus namespace, known only at start.
 */
export function productLookupController(subject: string): Type<unknown> {
  @Controller()
  class ProductLookupController {
    constructor(@Inject(EventStore) private readonly store: EventStore) {}

    @MessagePattern(subject)
    lookup(@Payload(valid(ProductLookupRequestV1)) request: ProductLookupRequestV1): Promise<ProductLookupReplyV1> {
      return findProduct(this.store, request.serial);
    }
  }
  return ProductLookupController;
}
