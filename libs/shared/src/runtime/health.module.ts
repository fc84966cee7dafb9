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
  type ExecutionContext,
} from '@nestjs/common';
import type { Response } from 'express';
import { Allow, Public } from '../auth/auth.guard.js';
import type { ServiceConfig } from '../config/service-config.js';
import { Database } from '../database/database.module.js';
import { Bus } from '../messaging/bus.module.js';
import { ServiceMetrics } from '../observability/metrics.js';
import { ServiceLifecycle } from './service-lifecycle.js';
import { SERVICE_CONFIG } from './service.module.js';

export interface HealthReport {
  readonly status: 'ok' | 'unavailable';
  readonly checks: { readonly postgres: 'up' | 'down'; readonly nats: 'up' | 'down'; readonly started: boolean };
}

/** Whether the service can do its work: started, PostgreSQL answering, NATS connected. */
@Injectable()
export class Health {
  constructor(
    @Inject(Database) private readonly database: Database,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(ServiceLifecycle) private readonly lifecycle: ServiceLifecycle,
  ) {}

  /** Cheap enough for every request: the connection states, no query. */
  get isReady(): boolean {
    return this.lifecycle.started && this.database.isConnected && this.bus.isUp;
  }

  /** Checks both dependencies now (a query and the NATS connection state). */
  async report(): Promise<HealthReport> {
    const postgres = await this.database.check();
    const nats = this.bus.isUp ? 'up' : 'down';
    const started = this.lifecycle.started;
    const ok = started && postgres === 'up' && nats === 'up';
    return { status: ok ? 'ok' : 'unavailable', checks: { postgres, nats, started } };
  }
}

/**
 * The probes: GET /livez is 200 while the process answers at all (nothing it depends on is checked, so a NATS or
 * PostgreSQL outage never restarts it); GET /readyz (and its older name /health) is 200 once PostgreSQL and NATS
 * are connected and the service has started, 503 before and during an outage. None needs a key.
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(Health) private readonly readiness: Health,
    @Inject(ServiceMetrics) private readonly serviceMetrics: ServiceMetrics,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
  ) {}

  @Get('livez')
  @Public()
  livez(): { service: string; status: 'ok' } {
    return { service: this.config.service, status: 'ok' };
  }

  @Get('readyz')
  @Public()
  async readyz(@Res() response: Response): Promise<void> {
    const report = await this.readiness.report();
    response.status(report.status === 'ok' ? 200 : 503).json({ service: this.config.service, ...report });
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
    return this.serviceMetrics.registry.metrics();
  }
}

const ALWAYS_OPEN = new Set(['/livez', '/readyz', '/health', '/metrics']);

/** Business endpoints answer 503 problem+json until the service is ready (and while NATS is away). */
@Injectable()
export class ReadinessGuard implements CanActivate {
  constructor(@Inject(Health) private readonly health: Health) {}

  canActivate(context: ExecutionContext): boolean {
    const path = context.switchToHttp().getRequest<{ path: string }>().path;
    if (ALWAYS_OPEN.has(path) || this.health.isReady) return true;
    throw new ServiceUnavailableException({
      code: 'SERVICE_UNAVAILABLE',
      message: 'The service is starting or a dependency (PostgreSQL, NATS) is unavailable; retry shortly.',
    });
  }
}

/** Health and metrics: /livez, /readyz (/health), /metrics, and the readiness the guard checks. Needs ServiceModule, DatabaseModule and BusModule. */
@Module({ controllers: [HealthController], providers: [Health, ReadinessGuard], exports: [Health, ReadinessGuard] })
export class HealthModule {}
