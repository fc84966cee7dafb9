import { Controller, Get, Inject } from '@nestjs/common';
import {
  Allow,
  Caller,
  EventStore,
  READERS,
  canAccess,
  SerialParam,
  UuidParam,
  type Principal,
  type PublishedEvent,
  type StoredEvent,
} from '#shared';
import { pairNotFound } from '../../domain/pair/pair.errors.js';
import type { PairEvent } from '../../domain/pair/pair.events.js';
import { productNotFound } from '../../domain/product/product.errors.js';
import type { ProductEvent } from '../../domain/product/product.events.js';
import { pairStreamId, productStreamId } from '../pairing-store.js';

/** One step of a product's or a pair's history: an event of its stream, with who made it. */
export type HistoryEntry<E extends PublishedEvent> = E extends unknown
  ? {
      readonly eventId: string;
      readonly streamVersion: number;
      readonly type: E['type'];
      /** When the event was recorded. */
      readonly at: string;
      /** Who made the change: the API key id of the request (null for events recorded before actors were). */
      readonly actor: string | null;
      readonly data: E['data'];
    }
  : never;

function historyEntryOf<E extends PublishedEvent>(event: StoredEvent<E>): HistoryEntry<E> {
  const { eventId, streamVersion, type, occurredAt, metadata, data } = event;
  return { eventId, streamVersion, type, at: occurredAt, actor: metadata.actor ?? null, data } as HistoryEntry<E>;
}

/** GET /products/:serial/history: the product's registration and firmware changes, oldest first, from its stream. */
@Controller('products/:serial/history')
export class ProductHistoryController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Get()
  @Allow(...READERS)
  async history(
    @SerialParam() serial: string,
    @Caller() caller: Principal,
  ): Promise<{ serial: string; events: HistoryEntry<ProductEvent>[] }> {
    const stored = await this.store.readStream<ProductEvent>(productStreamId(serial));
    // Another account's product answers exactly like an unknown serial; a product's account never changes.
    const accountId = stored[0]?.data.accountId;
    if (accountId === undefined || !canAccess(caller, accountId)) throw productNotFound(serial);
    return { serial, events: stored.map((e) => historyEntryOf<ProductEvent>(e)) };
  }
}

/** GET /pairs/:pairId/history: the pair's association and dissociation (a replacement's too), oldest first. */
@Controller('pairs/:pairId/history')
export class PairHistoryController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Get()
  @Allow(...READERS)
  async history(
    @UuidParam('pairId') pairId: string,
    @Caller() caller: Principal,
  ): Promise<{ pairId: string; events: HistoryEntry<PairEvent>[] }> {
    const stored = await this.store.readStream<PairEvent>(pairStreamId(pairId));
    const accountId = stored[0]?.data.accountId;
    if (accountId === undefined || !canAccess(caller, accountId)) throw pairNotFound(pairId);
    return { pairId, events: stored.map((e) => historyEntryOf<PairEvent>(e)) };
  }
}
