import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ApiKeyLookupRequestV1, ApiKeyStore, ServiceRuntime } from '#shared';

/**
 * Answers "who holds the key with this hash?" for licensing and the sync agent over signed core-NATS
 * request/reply, from the api_keys table, so a revocation is seen by the next lookup. Each answer is signed with
 * pairing's event-signing key for that one request, so a forged "operator" answer is never believed.
 */
@Injectable()
export class ApiKeyLookupResponder implements OnModuleInit {
  constructor(
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
  ) {}

  onModuleInit(): void {
    this.runtime.answer(this.runtime.names.apiKeyLookup, ApiKeyLookupRequestV1, (request) =>
      this.keys.findActive(request.keyHash),
    );
  }
}
