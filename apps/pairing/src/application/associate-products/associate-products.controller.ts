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
  valid,
  type CommandMetadata,
  type Principal,
} from '#shared';
import { ensureProductVisible } from '../tenancy.js';
import type { AssociateProducts } from '../../domain/pair/pair.commands.js';
import { decidePair } from '../pairing-commands.js';
import { activePairOf, loadProduct, recordMemberships } from '../pairing-store.js';
import { pairView, type PairView } from '../views.js';

/** POST /pairs: make two registered products a pair. */
export const AssociateProductsBody = z.strictObject({ primarySerial: Serial, secondarySerial: Serial });

@Controller('pairs')
export class AssociateProductsController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Post()
  @HttpCode(201)
  @Allow(...ACCOUNT_WRITERS)
  async associate(
    @Body(valid(AssociateProductsBody)) body: z.infer<typeof AssociateProductsBody>,
    @Caller() caller: Principal,
    @RequestMetadata() metadata: CommandMetadata,
  ): Promise<PairView> {
    await ensureProductVisible(this.store, body.primarySerial, caller);
    await ensureProductVisible(this.store, body.secondarySerial, caller);
    const pairId = randomUUID();
    const pair = await decidePair(
      this.store,
      pairId,
      // The facts about both products are read inside the transaction that appends, and the membership
      // rows written in it make a concurrent association of either product fail and retry.
      async (tx): Promise<AssociateProducts> => ({
        type: 'AssociateProducts',
        data: { pairId, ...body },
        context: {
          primary: await loadProduct(this.store, body.primarySerial, tx),
          secondary: await loadProduct(this.store, body.secondarySerial, tx),
          pairOfPrimary: await activePairOf(tx, body.primarySerial),
          pairOfSecondary: await activePairOf(tx, body.secondarySerial),
        },
        metadata,
      }),
      (tx) => recordMemberships(tx, pairId, body.primarySerial, body.secondarySerial),
    );
    return pairView(pair);
  }
}
