import 'reflect-metadata';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  ConfigurationError,
  loadServiceConfig,
  type ServiceConfig,
  type ServiceConfigDefaults,
} from '../config/service-config.js';
import { ServiceMetrics } from '../observability/metrics.js';
import { ServiceLifecycle } from '../runtime/service-lifecycle.js';
import { ServiceModule, type ServiceDefinition } from '../runtime/service.module.js';
import { TimedExpressAdapter, trustProxySetting } from './http-server.js';
import { requestHardening } from './hardening.js';
import { MAX_BODY_BYTES } from './problem-details.js';
import { resolveOperatorKey } from '../auth/operator-key.js';
import { ServiceLogger } from '../observability/logger.js';
import { accessLog, expressRoutes, type MappedRoute } from './access-log.js';
import { operatorKeyNotice, readyBanner } from './startup-messages.js';

/** Reads the configuration, or prints what is wrong with it and exits (code 78, EX_CONFIG). */
export function configOrExit(defaults: ServiceConfigDefaults): ServiceConfig {
  try {
    return loadServiceConfig(defaults);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    console.error(`${defaults.service}: ${error.message}`);
    process.exit(78);
  }
}

/**
 * SIGINT (Ctrl-C) and SIGTERM: stop accepting requests, drain the consumers and the relay, close the
 * connections, exit 0. A second signal exits at once.
 */
function exitCleanlyOnSignals(app: INestApplication, logger: ServiceLogger): void {
  let stopping = false;
  // While stopping, every answer closes its connection. Otherwise a client that keeps a keep-alive connection
  // busy holds the HTTP server's close() open for ever (found by the chaos harness: SIGTERM under load hung
  // until SIGKILL). The answers themselves stay problem+json (503 from the readiness guard once the service stops).
  app.use((_request: Request, response: Response, next: NextFunction) => {
    if (stopping) response.setHeader('Connection', 'close');
    next();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    logger.log(`${signal} received, shutting down`);
    app.close().then(
      () => {
        logger.log('stopped cleanly');
        process.exit(0);
      },
      (error: Error) => {
        logger.error(`shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export interface RunningService {
  readonly app: INestApplication;
  readonly url: string;
}

/** A service started in this process (by runService, or by a test): its app, its URL, and when it is ready. */
export interface StartedService extends RunningService {
  /** Settles when the lifecycle has started every part (PostgreSQL, NATS, relay, consumers), or failed to. */
  readonly ready: Promise<void>;
}

export interface StartServiceOptions {
  /** The variables the configuration is read from (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the development operator key lives (`.local/` under it; default: the working directory). */
  readonly cwd?: string;
  /** Express middleware outside Nest's routing (the sync agent's console), added before the routes. */
  readonly configureHttp?: (app: NestExpressApplication) => void;
  /** Called once the app exists, before it listens (runService: the signal handlers). */
  readonly onCreated?: (app: INestApplication, logger: ServiceLogger) => void;
}

/**
 * Starts a service from its module in this process: reads the configuration (a ConfigurationError says what is
 * wrong), then the HTTP server first (so /readyz answers 503 while dependencies connect), then the parts its
 * modules added to the lifecycle, in the background (`ready`). Tests start services this way to drive their HTTP
 * API in-process against the real PostgreSQL and NATS; `app.close()` stops one as SIGTERM would.
 */
export async function startService(
  appModule: Type<unknown>,
  definition: ServiceDefinition,
  options: StartServiceOptions = {},
): Promise<StartedService> {
  const env = options.env ?? process.env;
  const config = loadServiceConfig(definition, env);
  const operatorKey = resolveOperatorKey(env, options.cwd ?? process.cwd());
  const { service, logFormat, logLevel } = config;
  const logger = new ServiceLogger(service, { format: logFormat, level: logLevel });
  const serviceModule = ServiceModule.forRoot({ config, log: logger, definition, operatorKey });
  const app = await NestFactory.create<NestExpressApplication>(
    { module: class ServiceRootModule {}, imports: [serviceModule, appModule] },
    new TimedExpressAdapter(config.http),
    { logger, abortOnError: false, bodyParser: false },
  );
  // First, so that every request is logged and timed, also those the hardening, the guards or the router refuse.
  let routes: readonly MappedRoute[] = [];
  const metrics = app.get(ServiceMetrics);
  app.use(accessLog({ logger, duration: metrics.httpRequestDuration, routes: () => routes }));
  app.disable('x-powered-by');
  // request.ip, the address a failed-authentication budget belongs to: the socket's peer unless TRUST_PROXY.
  app.set('trust proxy', trustProxySetting(config.http.trustProxy));
  // Before the parser: refuse non-JSON bodies (415) and malformed correlation ids; then JSON up to 16 KB (413).
  app.use(requestHardening);
  app.useBodyParser('json', { limit: MAX_BODY_BYTES, type: ['application/json', 'application/*+json'] });
  options.configureHttp?.(app);
  const keyNotice = operatorKeyNotice(operatorKey.source, definition.ownsApiKeys ?? false);
  if (keyNotice) logger.log(keyNotice);
  options.onCreated?.(app, logger);
  const { host, port } = config.http;
  await app.listen(port, host);
  routes = expressRoutes(app.getHttpAdapter().getInstance());
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.debug(`listening on ${url}; waiting for PostgreSQL and NATS (${url}/readyz answers 503 until ready)`);
  const ready = app.get(ServiceLifecycle).start();
  ready.then(
    () => logger.log(readyBanner(service, url)),
    (error: Error) => logger.error(`startup failed: ${error.message}`),
  );
  return { app, url, ready };
}

/**
 * A service's main: startService with the process's environment, exit 78 (EX_CONFIG) naming what is wrong with the
 * configuration, and Ctrl-C / SIGTERM closing the HTTP server, draining consumers and the relay, and exiting.
 */
export async function runService(
  appModule: Type<unknown>,
  definition: ServiceDefinition,
  /** Express middleware outside Nest's routing (the sync agent's console), added before the routes. */
  configureHttp?: (app: NestExpressApplication) => void,
): Promise<RunningService> {
  try {
    const { app, url } = await startService(appModule, definition, { configureHttp, onCreated: exitCleanlyOnSignals });
    return { app, url };
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    console.error(`${definition.service}: ${error.message}`);
    process.exit(78);
  }
}
