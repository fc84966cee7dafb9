import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ProductLookupReplyV1, RpcClient, ServiceRuntime } from '#shared';

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

  async onApplicationShutdown(): Promise<void> {
    await this.rpc.close();
  }
}
