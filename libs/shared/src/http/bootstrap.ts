import 'reflect-metadata';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  ConfigurationError,
  loadServiceConfig,
  type ServiceConfig,
  type ServiceConfigDefaults,
} from '../config/service-config.js';
import { ServiceRuntime, type ServiceRuntimeOptions } from '../runtime/service-runtime.js';
import { RuntimeModule } from './runtime.module.js';
import { TimedExpressAdapter, trustProxySetting } from './http-server.js';
import { abuseMetrics } from './abuse-metrics.js';
import { requestHardening } from './hardening.js';
import { MAX_BODY_BYTES } from './problem-details.js';
import { ApiKeyVerifier } from '../auth/api-key-verifier.js';
import { ApiKeyStore } from '../auth/api-key-store.js';
import { ApiKeyLookupReplyV1 } from '../auth/api-key-lookup.js';
import { hashApiKey } from '../auth/api-keys.js';
import { resolveOperatorKey, type OperatorKey } from '../auth/operator-key.js';
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

/** The bootstrap operator key (OPERATOR_API_KEY, or in development the generated one), or exit 78. */
export function operatorKeyOrExit(service: string): OperatorKey {
  try {
    return resolveOperatorKey(process.env, process.cwd());
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    console.error(`${service}: ${error.message}`);
    process.exit(78);
  }
}

/**
 * Who verifies API keys: pairing owns the api_keys table and reads it, keeping only "unknown" answers
 * API_KEY_CACHE_SECONDS (so a revocation is immediate, and a repeated unknown key costs no transaction; a created
 * key leaves that cache at once, see RuntimeModule); the other services ask pairing over NATS by the key's hash
 * (signed request/reply) and keep the answer API_KEY_CACHE_SECONDS (docs/decisions.md §21, §37).
 */
function apiKeyVerifier(runtime: ServiceRuntime, operatorKey: OperatorKey, ownsApiKeys: boolean): ApiKeyVerifier {
  const bootstrapHash = hashApiKey(operatorKey.key);
  if (ownsApiKeys) {
    const store = new ApiKeyStore(runtime.eventStore);
    const { apiKeyLookups } = abuseMetrics(runtime.metrics.registry);
    const lookUp = async (hash: string) => {
      const principal = await store.findActive(hash);
      apiKeyLookups.inc({ answer: principal ? 'known' : 'unknown' });
      return principal;
    };
    return new ApiKeyVerifier(bootstrapHash, lookUp, { unknownCacheMs: runtime.config.apiKeyCacheSeconds * 1000 });
  }
  // Only pairing's signed answer is believed: a forged "operator" reply is ignored, and without a genuine answer
  // in time the request fails with 503 and nothing is cached.
  const pairing = runtime.askerOf('pairing', 'the pairing service (API keys)');
  return new ApiKeyVerifier(
    bootstrapHash,
    (keyHash) => pairing.request(runtime.names.apiKeyLookup, { keyHash }, ApiKeyLookupReplyV1),
    { cacheMs: runtime.config.apiKeyCacheSeconds * 1000 },
  );
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
  options: ServiceRuntimeOptions & {
    /** The service that keeps the api_keys table (pairing); the others ask it. */
    readonly ownsApiKeys?: boolean;
  },
  /** Wires what needs the Nest container (consumers, request handlers) before the runtime starts. */
  configure?: (runtime: ServiceRuntime, app: INestApplication) => void,
): Promise<RunningService> {
  const operatorKey = operatorKeyOrExit(options.config.service);
  const { service, logFormat, logLevel } = options.config;
  const logger = new ServiceLogger(service, { format: logFormat, level: logLevel });
  let runtime: ServiceRuntime;
  try {
    runtime = new ServiceRuntime({ ...options, logger });
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    console.error(`${options.config.service}: ${error.message}`);
    process.exit(78);
  }
  const verifier = apiKeyVerifier(runtime, operatorKey, options.ownsApiKeys ?? false);
  const app = await NestFactory.create<NestExpressApplication>(
    { module: class ServiceRootModule {}, imports: [RuntimeModule.forRuntime(runtime, verifier), appModule(runtime)] },
    new TimedExpressAdapter(options.config.http),
    { logger, abortOnError: false, bodyParser: false },
  );
  // First, so that every request is logged and timed, also those the hardening, the guards or the router refuse.
  let routes: readonly MappedRoute[] = [];
  app.use(accessLog({ logger, duration: runtime.metrics.httpRequestDuration, routes: () => routes }));
  app.disable('x-powered-by');
  // request.ip, the address a failed-authentication budget belongs to: the socket's peer unless TRUST_PROXY.
  app.set('trust proxy', trustProxySetting(options.config.http.trustProxy));
  // Before the parser: refuse non-JSON bodies (415) and malformed correlation ids; then JSON up to 16 KB (413).
  app.use(requestHardening);
  app.useBodyParser('json', { limit: MAX_BODY_BYTES, type: ['application/json', 'application/*+json'] });
  configure?.(runtime, app);
  const keyNotice = operatorKeyNotice(operatorKey.source, options.ownsApiKeys ?? false);
  if (keyNotice) logger.log(keyNotice);
  exitCleanlyOnSignals(app, logger);
  const { host, port } = options.config.http;
  await app.listen(port, host);
  routes = expressRoutes(app.getHttpAdapter().getInstance());
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.debug(`listening on ${url}; waiting for PostgreSQL and NATS (${url}/readyz answers 503 until ready)`);
  runtime.start().then(
    () => logger.log(readyBanner(service, url)),
    (error: Error) => logger.error(`startup failed: ${error.message}`),
  );
  return { app, runtime, url };
}
