import { Body, Controller, Inject, Patch } from '@nestjs/common';
import { z } from 'zod';
import {
  ACCOUNT_WRITERS,
  Allow,
  Caller,
  RequestMetadata,
  EventStore,
  FIRMWARE_VERSION_PATTERN,
  SerialParam,
  valid,
  type CommandMetadata,
  type Principal,
} from '#shared';
import { ensureProductVisible } from '../tenancy.js';
import { decideProduct } from '../pairing-commands.js';
import { activePairOf } from '../pairing-store.js';
import { productView, type ProductView } from '../views.js';

/** A firmware version as a request sends it, when registering a product or changing its firmware. */
export const FirmwareVersion = z.string().regex(FIRMWARE_VERSION_PATTERN, 'must look like 7.0.1');

/** PATCH /products/:serial: a firmware upgrade or downgrade (it decides stateful sync eligibility). */
export const ChangeFirmwareBody = z.strictObject({ firmwareVersion: FirmwareVersion });

@Controller('products')
export class ChangeFirmwareController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Patch(':serial')
  @Allow(...ACCOUNT_WRITERS)
  async change(
    @SerialParam() serial: string,
    @Body(valid(ChangeFirmwareBody)) body: z.infer<typeof ChangeFirmwareBody>,
    @Caller() caller: Principal,
    @RequestMetadata() metadata: CommandMetadata,
  ): Promise<ProductView> {
    await ensureProductVisible(this.store, serial, caller);
    let pairId: string | null = null;
    const product = await decideProduct(
      this.store,
      {
        type: 'ChangeFirmware',
        data: { serial, ...body },
        metadata,
      },
      async (tx) => {
        pairId = await activePairOf(tx, serial);
      },
    );
    return productView(product, pairId);
  }
}
