import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ApiKeyLookupRequestV1, ApiKeyStore, Bus, BUS_NAMES, EventStore, ProductLookupRequestV1, type BusNames } from '#shared';
import { findProduct } from './view-products/view-products.controller.js';

/**
 * What pairing answers other services over signed core-NATS request/reply; each answer is signed with pairing's
 * event-signing key for that one request, so nobody else on the bus can answer for pairing.
 * - "Does this product exist, and what is it?" (licensing), from the event store, so a product is known the moment
 *   its registration returned 201.
 * - "Who holds the key with this hash?" (licensing, the sync agent), from the api_keys table, so a revocation is seen
 *   by the next lookup.
 */
@Injectable()
export class PairingResponders implements OnModuleInit {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(BUS_NAMES) private readonly names: BusNames,
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
  ) {}

  onModuleInit(): void {
    const { names } = this;
    this.bus.answer(names.productLookup, ProductLookupRequestV1, (request) => findProduct(this.store, request.serial));
    this.bus.answer(names.apiKeyLookup, ApiKeyLookupRequestV1, (request) => this.keys.findActive(request.keyHash));
  }
}
