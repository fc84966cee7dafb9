import { Body, Controller, ForbiddenException, HttpCode, Inject, Post } from '@nestjs/common';
import { z } from 'zod';
import {
  ACCOUNT_WRITERS,
  AccountId,
  Allow,
  Caller,
  RequestMetadata,
  EventStore,
  PlainText,
  SERIAL_PATTERN,
  valid,
  type CommandMetadata,
  type Principal,
} from '#shared';
import { FirmwareVersion } from '../change-firmware/change-firmware.controller.js';
import { decideProduct } from '../pairing-commands.js';
import { productView, type ProductView } from '../views.js';

/**
 * POST /products: what is sent to register an appliance. `accountId` is required from an operator; an
 * account-admin's products always go to its key's account, so it may leave it out, and naming another
 * account is 403 FORBIDDEN (docs/decisions.md §22).
 */
export const RegisterProductBody = z.strictObject({
  serial: z.string().regex(SERIAL_PATTERN, 'must be 12 characters 0-9A-F'),
  model: PlainText({ max: 64 }),
  firmwareVersion: FirmwareVersion,
  accountId: AccountId.optional(),
});

/** The same body as an operator must send it: naming the account. */
const OperatorRegisterProductBody = RegisterProductBody.required({ accountId: true });

@Controller('products')
export class RegisterProductController {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  @Post()
  @HttpCode(201)
  @Allow(...ACCOUNT_WRITERS)
  async register(
    @Body() raw: unknown,
    @Caller() caller: Principal,
    @RequestMetadata() metadata: CommandMetadata,
  ): Promise<ProductView> {
    // Validated here rather than by a pipe because whether accountId is required depends on the caller's role.
    const body = valid(caller.role === 'operator' ? OperatorRegisterProductBody : RegisterProductBody).transform(raw);
    const accountId = accountOfRegistration(caller, body.accountId);
    const product = await decideProduct(this.store, {
      type: 'RegisterProduct',
      data: { ...body, accountId },
      metadata,
    });
    return productView(product, null);
  }
}

/** The account a registration goes to: the key's own, or for an operator the one the body names. */
function accountOfRegistration(caller: Principal, requested: string | undefined): string {
  if (caller.role === 'operator') {
    if (requested === undefined) throw new Error('an operator registration without an account');
    return requested;
  }
  if (caller.accountId === null) throw new Error('an account-scoped key without an account');
  if (requested !== undefined && requested !== caller.accountId)
    throw new ForbiddenException({ code: 'FORBIDDEN', message: 'This key registers products for its own account only.' });
  return caller.accountId;
}
