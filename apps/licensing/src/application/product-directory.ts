import { Inject, Injectable } from '@nestjs/common';
import { ProductLookupReplyV1, ServiceRuntime, requestReply } from '#shared';

/** Asks the pairing service about a product (core-NATS request/reply); 503 when pairing does not answer. */
@Injectable()
export class ProductDirectory {
  constructor(@Inject(ServiceRuntime) private readonly runtime: ServiceRuntime) {}

  find(serial: string): Promise<ProductLookupReplyV1> {
    return requestReply(
      this.runtime.nats,
      this.runtime.names.productLookup,
      { serial },
      ProductLookupReplyV1,
      'the pairing service',
    );
  }
}
