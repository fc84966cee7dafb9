import { Body, Controller, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { z } from 'zod';
import { CLOCK, EventStore, FIRMWARE_VERSION_PATTERN, SERIAL_PATTERN, handleCommand, valid, type Clock } from '#shared';
import { productDecider } from '../../domain/product/product.decide.js';
import { productStreamId } from '../pairing-store.js';
import { productView, type ProductView } from '../views.js';

/** POST /products: what an operator sends to register an appliance. */
export const RegisterProductBody = z.strictObject({
  serial: z.string().regex(SERIAL_PATTERN, 'must be 12 characters 0-9A-F'),
  model: z.string().min(1).max(64),
  firmwareVersion: z.string().regex(FIRMWARE_VERSION_PATTERN, 'must look like 7.0.1'),
  accountId: z.string().min(1).max(64),
});

@Controller('products')
export class RegisterProductController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  async register(
    @Body(valid(RegisterProductBody)) body: z.infer<typeof RegisterProductBody>,
    @Headers('x-correlation-id') correlationId?: string,
  ): Promise<ProductView> {
    const { state } = await handleCommand({
      store: this.store,
      decider: productDecider,
      streamId: productStreamId(body.serial),
      command: { type: 'RegisterProduct', data: body, metadata: { now: this.clock.now(), correlationId } },
    });
    if (state.status !== 'registered') throw new Error('registration produced no product');
    return productView(state, null);
  }
}
