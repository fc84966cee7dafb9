import 'reflect-metadata';
import { ConsoleLogger, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import {
  ConfigurationError,
  loadServiceConfig,
  type ServiceConfig,
  type ServiceConfigDefaults,
} from '../config/service-config.js';
import { ServiceRuntime, type ServiceRuntimeOptions } from '../runtime/service-runtime.js';
import { RuntimeModule } from './runtime.module.js';

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
function exitCleanlyOnSignals(app: INestApplication, logger: ConsoleLogger): void {
  let stopping = false;
  // While stopping, every answer closes its connection. Otherwise a client that keeps a keep-alive connection
  // busy holds the HTTP server's close() open for ever (found by the chaos harness: SIGTERM under load hung
  // until SIGKILL). The answers themselves stay problem+json (503 from the readiness guard once the runtime stops).
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
  readonly runtime: ServiceRuntime;
  readonly url: string;
}

/**
 * Starts a service: the HTTP server first (so /health answers 503 while dependencies connect), then the
 * runtime in the background. Ctrl-C / SIGTERM close the HTTP server, drain consumers and the relay, and exit.
 */
export async function runService(
  appModule: (runtime: ServiceRuntime) => Type<unknown> | DynamicModule,
  options: ServiceRuntimeOptions,
  /** Wires what needs the Nest container (consumers, request handlers) before the runtime starts. */
  configure?: (runtime: ServiceRuntime, app: INestApplication) => void,
): Promise<RunningService> {
  let runtime: ServiceRuntime;
  try {
    runtime = new ServiceRuntime(options);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    console.error(`${options.config.service}: ${error.message}`);
    process.exit(78);
  }
  const logger = new ConsoleLogger(options.config.service, { json: options.config.logFormat === 'json', timestamp: true });
  const app = await NestFactory.create(
    { module: class ServiceRootModule {}, imports: [RuntimeModule.forRuntime(runtime), appModule(runtime)] },
    { logger, abortOnError: false },
  );
  configure?.(runtime, app);
  exitCleanlyOnSignals(app, logger);
  const { host, port } = options.config.http;
  await app.listen(port, host);
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.log(`${options.config.service} listening on ${url} (health: ${url}/health)`);
  runtime.start().catch((error: Error) => logger.error(`startup failed: ${error.message}`));
  return { app, runtime, url };
}
