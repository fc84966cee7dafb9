import { randomUUID } from 'node:crypto';
import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { z } from 'zod';
import {
  ACCOUNT_WRITERS,
  Allow,
  Caller,
  RequestMetadata,
  EventStore,
  Serial,
  UuidParam,
  valid,
  type CommandMetadata,
  type Principal,
} from '#shared';
import { ensurePairVisible, ensureProductVisible } from '../tenancy.js';
import { pairView, type PairView } from '../views.js';
import { handleReplaceUnit } from './replace-unit.handler.js';

/** POST /pairs/:pairId/replacements: swap a failed unit of a pair for another product (an RMA). */
export const ReplaceUnitBody = z.strictObject({ failedSerial: Serial, replacementSerial: Serial });

@Controller('pairs')
export class ReplaceUnitController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  /** Answers the new pair, whose `replaces` names the old pair, the failed unit and the successor. */
  @Post(':pairId/replacements')
  @HttpCode(201)
  @Allow(...ACCOUNT_WRITERS)
  async replace(
    @UuidParam('pairId') pairId: string,
    @Body(valid(ReplaceUnitBody)) body: z.infer<typeof ReplaceUnitBody>,
    @Caller() caller: Principal,
    @RequestMetadata() metadata: CommandMetadata,
  ): Promise<PairView> {
    await ensurePairVisible(this.store, pairId, caller);
    await ensureProductVisible(this.store, body.replacementSerial, caller);
    const { newPair } = await handleReplaceUnit(this.store, {
      pairId,
      newPairId: randomUUID(),
      ...body,
      metadata,
    });
    return pairView(newPair);
  }
}
