import { Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ApiKeyLookupReplyV1 } from '../auth/api-key-lookup.js';
import { ApiKeyStore } from '../auth/api-key-store.js';
import { ApiKeyVerifier } from '../auth/api-key-verifier.js';
import { hashApiKey } from '../auth/api-keys.js';
import { AuthGuard } from '../auth/auth.guard.js';
import type { OperatorKey } from '../auth/operator-key.js';
import type { BusNames } from '../contracts/index.js';
import type { ServiceConfig } from '../config/service-config.js';
import { EventStore } from '../event-store/event-store.js';
import { Bus } from '../messaging/bus.module.js';
import { ServiceMetrics } from '../observability/metrics.js';
import { HealthModule, ReadinessGuard } from '../runtime/health.module.js';
import {
  BUS_NAMES,
  OPERATOR_KEY,
  SERVICE_CONFIG,
  SERVICE_DEFINITION,
  type ServiceDefinition,
} from '../runtime/service.module.js';
import { abuseMetrics } from './abuse-metrics.js';
import { FailedAuthLimiter } from './failed-auth-limit.js';
import { ProblemDetailsFilter } from './problem-details.js';
import { RateLimitGuard } from './rate-limit.js';

/**
 * Who verifies API keys: pairing owns the api_keys table and reads it, keeping only "unknown" answers
 * API_KEY_CACHE_SECONDS (so a revocation is immediate, and a repeated unknown key costs no transaction; a created
 * key leaves that cache at once, see ApiKeyStore below); the other services ask pairing over NATS by the key's hash
 * (signed request/reply) and keep the answer API_KEY_CACHE_SECONDS (docs/decisions.md §21, §37).
 */
function apiKeyVerifier(
  definition: ServiceDefinition,
  operatorKey: OperatorKey,
  config: ServiceConfig,
  eventStore: EventStore,
  metrics: ServiceMetrics,
  bus: Bus,
  names: BusNames,
): ApiKeyVerifier {
  const bootstrapHash = hashApiKey(operatorKey.key);
  if (definition.ownsApiKeys) {
    const store = new ApiKeyStore(eventStore);
    const { apiKeyLookups } = abuseMetrics(metrics.registry);
    const lookUp = async (hash: string) => {
      const principal = await store.findActive(hash);
      apiKeyLookups.inc({ answer: principal ? 'known' : 'unknown' });
      return principal;
    };
    return new ApiKeyVerifier(bootstrapHash, lookUp, { unknownCacheMs: config.apiKeyCacheSeconds * 1000 });
  }
  // Only pairing's signed answer is believed: a forged "operator" reply is ignored, and without a genuine answer
  // in time the request fails with 503 and nothing is cached.
  const pairing = bus.askerOf('pairing', 'the pairing service (API keys)');
  return new ApiKeyVerifier(bootstrapHash, (keyHash) => pairing.request(names.apiKeyLookup, { keyHash }, ApiKeyLookupReplyV1), {
    cacheMs: config.apiKeyCacheSeconds * 1000,
  });
}

/**
 * The HTTP API's policy (global): problem+json errors; the guards, in this order: API key (behind the
 * failed-authentication budget of the client address), readiness (503 until the service is ready), the per-key rate
 * limit; the API keys themselves (verifier and store); and the probes and metrics (HealthModule).
 */
@Global()
@Module({
  imports: [HealthModule],
  providers: [
    {
      provide: ApiKeyVerifier,
      inject: [SERVICE_DEFINITION, OPERATOR_KEY, SERVICE_CONFIG, EventStore, ServiceMetrics, Bus, BUS_NAMES],
      useFactory: apiKeyVerifier,
    },
    {
      provide: ApiKeyStore,
      inject: [EventStore, ApiKeyVerifier],
      // A created key's hash leaves the verifier's cache of unknown keys at once.
      useFactory: (store: EventStore, verifier: ApiKeyVerifier) => new ApiKeyStore(store, (hash) => verifier.keyCreated(hash)),
    },
    {
      provide: FailedAuthLimiter,
      inject: [SERVICE_CONFIG, ServiceMetrics],
      useFactory: (config: ServiceConfig, metrics: ServiceMetrics) => {
        const { authThrottled } = abuseMetrics(metrics.registry);
        return new FailedAuthLimiter(config.failedAuthPerMinute, { throttled: () => authThrottled.inc() });
      },
    },
    { provide: APP_FILTER, useClass: ProblemDetailsFilter },
    // Global guards run in this order.
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: ReadinessGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [ApiKeyVerifier, ApiKeyStore, FailedAuthLimiter],
})
export class ApiModule {}
