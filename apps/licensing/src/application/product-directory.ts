import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ProductLookupReplyV1, RpcClient, ServiceRuntime, canAccess, type Principal } from '#shared';

/**
 * Asks the pairing service about a product (core-NATS request/reply through Nest's NATS transport);
 * 503 DEPENDENCY_UNAVAILABLE when pairing does not answer.
 */
@Injectable()
export class ProductDirectory implements OnApplicationShutdown {
  private readonly rpc: RpcClient;

  constructor(@Inject(ServiceRuntime) private readonly runtime: ServiceRuntime) {
    this.rpc = new RpcClient(runtime.config, 'the pairing service');
  }

  find(serial: string): Promise<ProductLookupReplyV1> {
    return this.rpc.request(this.runtime.names.productLookup, { serial }, ProductLookupReplyV1);
  }

  /**
   * Whether the caller may see what is on this product: operators always (no lookup); an account-scoped key
   * only for a registered product of its account. Licensing keeps no account of its own: a product's account
   * never changes, and pairing answers it from the product's stream.
   */
  async isVisibleTo(caller: Principal, serial: string): Promise<boolean> {
    if (caller.role === 'operator') return true;
    const product = await this.find(serial);
    return product !== null && canAccess(caller, product.accountId);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.rpc.close();
  }
}
