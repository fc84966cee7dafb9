import { Body, Controller, Delete, Get, HttpCode, Inject, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  ACCOUNT_SCOPED_ROLES,
  AccountId,
  ApiKeyRole,
  ApiKeyStore,
  CLOCK,
  Caller,
  PlainText,
  RuleViolation,
  UuidParam,
  ValidationFailedError,
  valid,
  type ApiKeyView,
  type Clock,
  type Principal,
} from '#shared';

/** POST /api-keys: a name for humans, a role, and the account for account-scoped roles (none for the others). */
export const CreateApiKeyBody = z.strictObject({
  name: PlainText({ max: 100 }),
  role: ApiKeyRole,
  accountId: AccountId.optional(),
});

export const ListApiKeysQuery = z.strictObject({ accountId: AccountId.optional() });

/**
 * API keys, for operators only (the guard's default): create (the secret is answered once and never
 * stored), list (no secrets) and revoke (effective at once in pairing, within API_KEY_CACHE_SECONDS in the
 * other services).
 */
@Controller('api-keys')
export class ApiKeysController {
  constructor(
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  async create(
    @Body(valid(CreateApiKeyBody)) body: z.infer<typeof CreateApiKeyBody>,
    @Caller() caller: Principal,
  ): Promise<ApiKeyView & { apiKey: string }> {
    const scoped = ACCOUNT_SCOPED_ROLES.includes(body.role);
    if (scoped && body.accountId === undefined)
      throw new ValidationFailedError([{ field: 'accountId', message: `is required for the role "${body.role}"` }]);
    if (!scoped && body.accountId !== undefined)
      throw new ValidationFailedError([{ field: 'accountId', message: `must not be set for the role "${body.role}"` }]);
    return this.keys.create({
      name: body.name,
      role: body.role,
      accountId: body.accountId ?? null,
      createdBy: caller.keyId,
      now: this.clock.now(),
    });
  }

  @Get()
  async list(@Query(valid(ListApiKeysQuery)) query: z.infer<typeof ListApiKeysQuery>): Promise<{ keys: ApiKeyView[] }> {
    return { keys: await this.keys.list(query.accountId) };
  }

  @Delete(':keyId')
  async revoke(@UuidParam('keyId') keyId: string): Promise<ApiKeyView> {
    const key = await this.keys.revoke(keyId, this.clock.now());
    if (!key) throw new RuleViolation('API_KEY_NOT_FOUND', 'not-found', `No API key "${keyId}"`);
    return key;
  }
}
