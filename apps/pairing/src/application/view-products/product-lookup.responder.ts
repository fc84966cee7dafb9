import { Inject, Injectable } from '@nestjs/common';
import { EventStore, ProductLookupRequestV1, ServiceRuntime, serveRequests } from '#shared';
import { findProduct } from './view-products.controller.js';

/**
 * Answers "does this product exist, and what is it?" over core-NATS request/reply, from the event store,
 * so licensing sees a product the moment its registration returned 201.
 */
@Injectable()
export class ProductLookupResponder {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
  ) {}

  listen(): void {
    serveRequests(this.runtime.nats, this.runtime.names.productLookup, 'pairing', ProductLookupRequestV1, ({ serial }) =>
      findProduct(this.store, serial),
    );
  }
}
