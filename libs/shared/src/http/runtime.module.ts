import {
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Res,
  ServiceUnavailableException,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { Response } from 'express';
import { EventStore } from '../event-store/event-store.js';
import { ServiceRuntime } from '../runtime/service-runtime.js';
import { CLOCK, systemClock } from '../runtime/clock.js';
import { ProblemDetailsFilter } from './problem-details.js';
import { Allow, AuthGuard, Public } from '../auth/auth.guard.js';
import { ApiKeyVerifier } from '../auth/api-key-verifier.js';
import { ApiKeyStore } from '../auth/api-key-store.js';
import { RateLimitGuard } from './rate-limit.js';
import { FailedAuthLimiter } from './failed-auth-limit.js';
import { abuseMetrics } from './abuse-metrics.js';

/**
 * The probes: GET /livez is 200 while the process answers at all (nothing it depends on is checked, so a NATS or
 * PostgreSQL outage never restarts it); GET /readyz (and its older name /health) is 200 once PostgreSQL and NATS
 * are connected and the service has started, 503 before and during an outage. None needs a key.
 */
@Controller()
export class HealthController {
  constructor(@Inject(ServiceRuntime) private readonly runtime: ServiceRuntime) {}

  @Get('livez')
  @Public()
  livez(): { service: string; status: 'ok' } {
    return { service: this.runtime.config.service, status: 'ok' };
  }

  @Get('readyz')
  @Public()
  async readyz(@Res() response: Response): Promise<void> {
    const report = await this.runtime.health();
    response.status(report.status === 'ok' ? 200 : 503).json({ service: this.runtime.config.service, ...report });
  }

  /** The older name of /readyz, kept for the clients and health checks that use it. */
  @Get('health')
  @Public()
  health(@Res() response: Response): Promise<void> {
    return this.readyz(response);
  }

  /** Scraped with an operator key or a `metrics` key (a key that can read nothing else). */
  @Get('metrics')
  @Allow('operator', 'metrics')
  @HttpCode(200)
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metrics(): Promise<string> {
    return this.runtime.metrics.registry.metrics();
  }
}

const ALWAYS_OPEN = new Set(['/livez', '/readyz', '/health', '/metrics']);

/** Business endpoints answer 503 problem+json until the service is ready (and while NATS is away). */
@Injectable()
export class ReadinessGuard implements CanActivate {
  constructor(@Inject(ServiceRuntime) private readonly runtime: ServiceRuntime) {}

  canActivate(context: ExecutionContext): boolean {
    const path = context.switchToHttp().getRequest<{ path: string }>().path;
    if (ALWAYS_OPEN.has(path) || this.runtime.isReady) return true;
    throw new ServiceUnavailableException({
      code: 'SERVICE_UNAVAILABLE',
      message: 'The service is starting or a dependency (PostgreSQL, NATS) is unavailable; retry shortly.',
    });
  }
}

/** Stops the runtime when Nest shuts down (SIGINT/SIGTERM), after the HTTP server stopped accepting. */
@Injectable()
class RuntimeShutdown implements OnApplicationShutdown {
  constructor(@Inject(ServiceRuntime) private readonly runtime: ServiceRuntime) {}

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.stop();
  }
}

/**
 * The thin Nest adapter around a ServiceRuntime: health and metrics endpoints, problem+json errors, the
 * guards (API key first, behind the failed-authentication budget of the client address; then readiness, then
 * the per-key rate limit), and the runtime's parts (event store, API keys) as injectable providers.
 */
@Module({})
export class RuntimeModule {
  static forRuntime(runtime: ServiceRuntime, verifier: ApiKeyVerifier): DynamicModule {
    const { authThrottled } = abuseMetrics(runtime.metrics.registry);
    return {
      module: RuntimeModule,
      global: true,
      controllers: [HealthController],
      providers: [
        { provide: ServiceRuntime, useValue: runtime },
        { provide: EventStore, useValue: runtime.eventStore },
        { provide: CLOCK, useValue: systemClock },
        { provide: ApiKeyVerifier, useValue: verifier },
        // A created key's hash leaves the verifier's cache of unknown keys at once.
        { provide: ApiKeyStore, useValue: new ApiKeyStore(runtime.eventStore, (hash) => verifier.keyCreated(hash)) },
        {
          provide: FailedAuthLimiter,
          useValue: new FailedAuthLimiter(runtime.config.failedAuthPerMinute, { throttled: () => authThrottled.inc() }),
        },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        // Global guards run in this order.
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: ReadinessGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        RuntimeShutdown,
      ],
      exports: [ServiceRuntime, EventStore, CLOCK, ApiKeyVerifier, ApiKeyStore],
    };
  }
}
