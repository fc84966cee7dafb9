import { Controller, Get } from '@nestjs/common';
import { Allow, Caller, READERS, type Principal } from '#shared';

/** GET /me: who the presented key is (its id, role and account), so a client such as the console can adapt to it. */
@Controller('me')
export class MeController {
  @Get()
  @Allow(...READERS, 'metrics')
  me(@Caller() caller: Principal): Principal {
    return { keyId: caller.keyId, role: caller.role, accountId: caller.accountId };
  }
}
