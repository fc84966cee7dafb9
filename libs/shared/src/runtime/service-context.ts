import { Global, Inject, Injectable, Module } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { BusNames, EventSource } from '../contracts/index.js';
import type { ServiceConfig } from '../config/service-config.js';
import { Bus } from '../messaging/bus.module.js';
import type { SignedRpcClient } from '../messaging/request-reply.js';
import { ServiceMetrics } from '../observability/metrics.js';
import { BUS_NAMES, SERVICE_CONFIG } from './service.module.js';

/**
 * The service's configuration, bus names, metrics and bus in one injectable, for a provider that reads several of
 * them. It owns and starts nothing (the modules do); injecting the part itself (SERVICE_CONFIG, BUS_NAMES,
 * ServiceMetrics, Bus) says more about a provider's needs and is preferred in new code.
 */
@Injectable()
export class ServiceContext {
  constructor(
    @Inject(SERVICE_CONFIG) readonly config: ServiceConfig,
    @Inject(BUS_NAMES) readonly names: BusNames,
    @Inject(ServiceMetrics) readonly metrics: ServiceMetrics,
    @Inject(Bus) private readonly bus: Bus,
  ) {}

  /** The NATS connection; only once the service is ready. */
  get nats(): NatsConnection {
    return this.bus.nats;
  }

  /** Asks `owner`'s signed request/reply subjects over the service's connection (see Bus.askerOf). */
  askerOf(owner: EventSource, dependency: string): SignedRpcClient {
    return this.bus.askerOf(owner, dependency);
  }
}

/** Provides the ServiceContext to every module of the service (global). Needs ServiceModule and BusModule. */
@Global()
@Module({ providers: [ServiceContext], exports: [ServiceContext] })
export class ServiceContextModule {}
