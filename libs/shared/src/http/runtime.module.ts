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

/** GET /health: 200 once PostgreSQL and NATS are connected and the service has started; 503 before. */
@Controller()
export class HealthController {
  constructor(@Inject(ServiceRuntime) private readonly runtime: ServiceRuntime) {}

  @Get('health')
  async health(@Res() response: Response): Promise<void> {
    const report = await this.runtime.health();
    response.status(report.status === 'ok' ? 200 : 503).json({ service: this.runtime.config.service, ...report });
  }

  @Get('metrics')
  @HttpCode(200)
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metrics(): Promise<string> {
    return this.runtime.metrics.registry.metrics();
  }
}

const ALWAYS_OPEN = new Set(['/health', '/metrics']);

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
 * The thin Nest adapter around a ServiceRuntime: health and metrics endpoints, problem+json errors,
 * the readiness guard, and the runtime's parts (event store) as injectable providers.
 */
@Module({})
export class RuntimeModule {
  static forRuntime(runtime: ServiceRuntime): DynamicModule {
    return {
      module: RuntimeModule,
      global: true,
      controllers: [HealthController],
      providers: [
        { provide: ServiceRuntime, useValue: runtime },
        { provide: EventStore, useValue: runtime.eventStore },
        { provide: CLOCK, useValue: systemClock },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        { provide: APP_GUARD, useClass: ReadinessGuard },
        RuntimeShutdown,
      ],
      exports: [ServiceRuntime, EventStore, CLOCK],
    };
  }
}
