import { Module, type DynamicModule } from '@nestjs/common';
import { busNames, type BusNames, type EventSource } from '../contracts/index.js';
import type { ServiceConfig, ServiceConfigDefaults } from '../config/service-config.js';
import { loadEventKeyRing, type EventKeyRing } from '../event-signing/event-key-ring.js';
import { ServiceMetrics } from '../observability/metrics.js';
import type { OperatorKey } from '../auth/operator-key.js';
import { CLOCK, systemClock } from './clock.js';
import { ServiceLifecycle } from './service-lifecycle.js';

/** What a service is, beside its modules: how its configuration defaults, the events it writes, who keeps the API keys. */
export interface ServiceDefinition extends ServiceConfigDefaults {
  /** The source whose events this service writes to its event store and relays to JetStream (and signs). */
  readonly publishes: EventSource;
  /** The service that keeps the api_keys table (pairing); the others ask it. */
  readonly ownsApiKeys?: boolean;
}

/** What the service's parts log with: the service's logger, in its format. */
export interface ServiceLog {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Nest injection tokens of the values every part of a service may need. */
export const SERVICE_CONFIG = Symbol('ServiceConfig');
export const SERVICE_DEFINITION = Symbol('ServiceDefinition');
export const SERVICE_LOG = Symbol('ServiceLog');
export const BUS_NAMES = Symbol('BusNames');
/** This service's event-signing key and every producer's public keys (EVENT_KEYS_DIR). */
export const EVENT_KEYS = Symbol('EventKeyRing');
/** The bootstrap operator key (OPERATOR_API_KEY, or in development the generated one). */
export const OPERATOR_KEY = Symbol('OperatorKey');

export interface ServiceModuleOptions {
  readonly config: ServiceConfig;
  readonly log: ServiceLog;
  /** The service's identity; a tool that only uses the bus (bus setup) has none, and so no event keys. */
  readonly definition?: ServiceDefinition;
  readonly operatorKey?: OperatorKey;
}

/**
 * The values every part of a service reads (global): its configuration and bus names, its logger and metrics, the
 * clock, its event keys, and the lifecycle its database, bus, relay and consumer modules add their start steps to.
 * Loaded before Nest starts (the logger needs the configuration), so a bad variable exits 78 with its name.
 */
@Module({})
export class ServiceModule {
  static forRoot(options: ServiceModuleOptions): DynamicModule {
    const { config, definition } = options;
    const metrics = new ServiceMetrics(config.service);
    // Throws ConfigurationError (exit 78, see runService) when the keys are missing or unreadable.
    const eventKeys = definition ? loadEventKeyRing(config.eventKeys, definition.publishes) : undefined;
    for (const warning of eventKeys?.warnings ?? []) options.log.warn(warning);
    const values = [
      { provide: SERVICE_CONFIG, useValue: config },
      { provide: SERVICE_LOG, useValue: options.log },
      { provide: BUS_NAMES, useValue: busNames(config.busNamespace) satisfies BusNames },
      { provide: ServiceMetrics, useValue: metrics },
      { provide: CLOCK, useValue: systemClock },
      ...(definition ? [{ provide: SERVICE_DEFINITION, useValue: definition }] : []),
      ...(eventKeys ? [{ provide: EVENT_KEYS, useValue: eventKeys satisfies EventKeyRing }] : []),
      ...(options.operatorKey ? [{ provide: OPERATOR_KEY, useValue: options.operatorKey }] : []),
    ];
    return {
      module: ServiceModule,
      global: true,
      providers: [...values, ServiceLifecycle],
      exports: [...values.map((value) => value.provide), ServiceLifecycle],
    };
  }
}
