import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { EventStore, ProductLookupRequestV1, ServiceRuntime } from '#shared';
import { findProduct } from './view-products.controller.js';

/**
 * Answers "does this product exist, and what is it?" over signed core-NATS request/reply, from the event store, so
 * licensing sees a product the moment its registration returned 201. Each answer is signed with pairing's
 * event-signing key for that one request: nobody else on the bus can answer for pairing.
 */
@Injectable()
export class ProductLookupResponder implements OnModuleInit {
  constructor(
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(EventStore) private readonly store: EventStore,
  ) {}

  onModuleInit(): void {
    this.runtime.answer(this.runtime.names.productLookup, ProductLookupRequestV1, (request) =>
      findProduct(this.store, request.serial),
    );
  }
}
