import { Inject, Injectable } from '@nestjs/common';
import {
  Bus,
  BUS_NAMES,
  ProductLookupReplyV1,
  canAccess,
  seesEveryAccount,
  type Principal,
  type BusNames,
  type SignedRpcClient,
} from '#shared';

/**
 * What licensing needs of a product, and what never changes once it is registered: pairing has no event that
 * unregisters a product or changes its model or account (only its firmware and pairing change).
 */
export interface RegisteredProduct {
  readonly serial: string;
  readonly model: string;
  readonly accountId: string;
}

/** Serials remembered; past this the memory is cleared and refilled from pairing (bounded memory, no LRU bookkeeping). */
const MAX_REMEMBERED = 100_000;

/**
 * `lookup`, remembering every answer that is not null (up to `max` keys, then starting afresh). Only for answers
 * that can never change; null ("not yet") is asked again every time.
 */
export function rememberingFound<V>(lookup: (key: string) => Promise<V | null>, max: number): (key: string) => Promise<V | null> {
  const remembered = new Map<string, V>();
  return async (key) => {
    const known = remembered.get(key);
    if (known !== undefined) return known;
    const found = await lookup(key);
    if (found === null) return null;
    if (remembered.size >= max) remembered.clear();
    remembered.set(key, found);
    return found;
  };
}

/**
 * Asks the pairing service about a product (signed core-NATS request/reply: only pairing's own signature over
 * the answer to this request is believed); 503 DEPENDENCY_UNAVAILABLE when pairing gives no genuine answer.
 *
 * `registered()` remembers each product pairing confirmed: its facts never change, so every later grant, read or
 * visibility check on that serial costs no request (the request, and pairing's reading of the product's stream,
 * were a third of a grant's CPU). An unknown serial is never remembered: it may be registered the next moment,
 * and must then be granted at once.
 */
@Injectable()
export class ProductDirectory {
  private readonly rpc: SignedRpcClient;

  constructor(
    @Inject(Bus) bus: Bus,
    @Inject(BUS_NAMES) private readonly names: BusNames,
  ) {
    this.rpc = bus.askerOf('pairing', 'the pairing service');
  }

  /** The product as pairing has it now (firmware and pair included), or null: always asks pairing. */
  find(serial: string): Promise<ProductLookupReplyV1> {
    return this.rpc.request(this.names.productLookup, { serial }, ProductLookupReplyV1);
  }

  /** The registered product's unchanging facts, or null when pairing does not know the serial. */
  readonly registered = rememberingFound<RegisteredProduct>(async (serial) => {
    const product = await this.find(serial);
    return product && { serial: product.serial, model: product.model, accountId: product.accountId };
  }, MAX_REMEMBERED);

  /**
   * Whether the caller may see what is on this product: operators and auditors always (no lookup); an account-scoped key
   * only for a registered product of its account. Licensing keeps no account of its own: a product's account
   * never changes, and pairing answers it from the product's stream.
   */
  async isVisibleTo(caller: Principal, serial: string): Promise<boolean> {
    if (seesEveryAccount(caller)) return true;
    const product = await this.registered(serial);
    return product !== null && canAccess(caller, product.accountId);
  }
}
