/**
 * The in-process API tier: a service's Nest application started inside the test process (no child process, no
 * build), with its HTTP server on a free loopback port, its own schema in the test database and a bus namespace
 * the test chooses, against the real PostgreSQL and NATS. Faster to start than a process and debuggable in place;
 * the end-to-end tier still runs the compiled services as processes, as production does.
 */
import type { Type } from '@nestjs/common';
import { startServiceApp, type StartedService } from '../http/bootstrap.js';
import { freePort } from '../processes/processes.js';
import type { ServiceDefinition } from '../runtime/service.module.js';
import type { ServiceName } from '../processes/services.js';
import { testServiceEnv } from './system.js';

export interface InProcessService extends StartedService {
  /** Stops it as SIGTERM would: HTTP server, consumers, relay, connections. */
  close(): Promise<void>;
}

/**
 * Starts `appModule` in this process with the settings a test system gives its services (testServiceEnv: the test
 * database, the shared NATS, the schema and bus namespace of `namespace`, the test operator key), logs at `warn` so a
 * test's output stays readable, and `env` on top; waits until it is ready. Clean up with dropSchemas(schemaOf(…))
 * and deleteNamespaceStreams, as for a system of processes.
 */
export async function startInProcess(
  appModule: Type<unknown>,
  definition: ServiceDefinition,
  namespace: string,
  env: Record<string, string> = {},
): Promise<InProcessService> {
  const service = await startServiceApp(appModule, definition, {
    env: { ...testServiceEnv(definition.service as ServiceName, await freePort(), namespace), LOG_LEVEL: 'warn', ...env },
  });
  await service.ready;
  return { ...service, close: () => service.app.close() };
}
