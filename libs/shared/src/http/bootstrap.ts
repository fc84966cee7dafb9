import 'reflect-metadata';
import { ConsoleLogger, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigurationError, loadServiceConfig, type ServiceConfig, type ServiceConfigDefaults } from '../config/service-config.js';
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
  const runtime = new ServiceRuntime(options);
  const logger = new ConsoleLogger(options.config.service, { json: options.config.logFormat === 'json', timestamp: true });
  const app = await NestFactory.create(
    { module: class ServiceRootModule {}, imports: [RuntimeModule.forRuntime(runtime), appModule(runtime)] },
    { logger, abortOnError: false },
  );
  configure?.(runtime, app);
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);
  const { host, port } = options.config.http;
  await app.listen(port, host);
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.log(`${options.config.service} listening on ${url} (health: ${url}/health)`);
  runtime.start().catch((error: Error) => logger.error(`startup failed: ${error.message}`));
  return { app, runtime, url };
}
