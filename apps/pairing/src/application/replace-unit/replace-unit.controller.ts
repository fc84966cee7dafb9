import { randomUUID } from 'node:crypto';
import { Body, Controller, Headers, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { CLOCK, EventStore, Serial, valid, type Clock } from '#shared';
import { pairView, type PairView } from '../views.js';
import { handleReplaceUnit } from './replace-unit.handler.js';

/** POST /pairs/:pairId/replacements: swap a failed unit of a pair for another product (an RMA). */
export const ReplaceUnitBody = z.strictObject({ failedSerial: Serial, replacementSerial: Serial });

@Controller('pairs')
export class ReplaceUnitController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Answers the new pair, whose `replaces` names the old pair, the failed unit and the successor. */
  @Post(':pairId/replacements')
  @HttpCode(201)
  async replace(
    @Param('pairId', valid(z.uuid('must be a UUID'), 'pairId')) pairId: string,
    @Body(valid(ReplaceUnitBody)) body: z.infer<typeof ReplaceUnitBody>,
    @Headers('x-correlation-id') correlationId?: string,
  ): Promise<PairView> {
    const { newPair } = await handleReplaceUnit(this.store, {
      pairId,
      newPairId: randomUUID(),
      ...body,
      now: this.clock.now(),
      correlationId,
    });
    return pairView(newPair);
  }
}
