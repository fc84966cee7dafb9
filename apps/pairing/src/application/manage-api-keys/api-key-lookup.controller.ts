import { Controller, Inject, type Type } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ApiKeyLookupRequestV1, ApiKeyStore, valid, type ApiKeyLookupReplyV1 } from '#shared';

/**
 * Answers "who holds the key with this hash?" for licensing and the sync agent (core-NATS request/reply),
 * from the api_keys table, so a revocation is seen by the next lookup. Built per subject like the product lookup.
 */
export function apiKeyLookupController(subject: string): Type<unknown> {
  @Controller()
  class ApiKeyLookupController {
    constructor(@Inject(ApiKeyStore) private readonly keys: ApiKeyStore) {}

    @MessagePattern(subject)
    lookup(@Payload(valid(ApiKeyLookupRequestV1)) request: ApiKeyLookupRequestV1): Promise<ApiKeyLookupReplyV1> {
      return this.keys.findActive(request.keyHash);
    }
  }
  return ApiKeyLookupController;
}
