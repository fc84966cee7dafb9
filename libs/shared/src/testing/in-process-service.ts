/**
 * The in-process API tier: a service's Nest application started inside the test process (no child process, no
 * build), with its HTTP server on a free loopback port, its own schema in the test database and a bus namespace
 * the test chooses, against the real PostgreSQL and NATS. Faster to start than a process and debuggable in place;
 * the end-to-end tier still runs the compiled services as processes, as production does.
 */
import { createServer } from 'node:net';
import type { Type } from '@nestjs/common';
import { startService, type StartedService } from '../http/bootstrap.js';
import type { ServiceDefinition } from '../runtime/service.module.js';
import { TEST_DATABASE } from './postgres.js';

/** A free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface InProcessService extends StartedService {
  /** The service's schema in the test database (dropped by the test's own clean-up, if it wants). */
  readonly schema: string;
  /** Stops it as SIGTERM would: HTTP server, consumers, relay, connections. */
  close(): Promise<void>;
}

/**
 * Starts `appModule` in this process and waits until it is ready. `env` adds to (or overrides) the test settings:
 * the test database on 127.0.0.1:5432, NATS on 127.0.0.1:4222, `namespace` for the bus, the schema
 * `<namespace>_<service>` (a namespace from testBusNamespace), plain-text logs at `warn` (a test's output stays readable).
 */
export async function startInProcess(
  appModule: Type<unknown>,
  definition: ServiceDefinition,
  namespace: string,
  env: Record<string, string> = {},
): Promise<InProcessService> {
  const schema = `${namespace}_${definition.service}`.replace(/-/g, '_');
  const service = await startService(appModule, definition, {
    env: {
      HTTP_HOST: '127.0.0.1',
      [definition.portVariable]: String(await freeLoopbackPort()),
      PGHOST: '127.0.0.1',
      PGPORT: '5432',
      PGUSER: 'postgres',
      PGDATABASE: TEST_DATABASE,
      DB_SCHEMA: schema,
      NATS_URL: 'nats://127.0.0.1:4222',
      BUS_NAMESPACE: namespace,
      LOG_FORMAT: 'text',
      LOG_LEVEL: 'warn',
      STREAM_MAX_BYTES: String(64 * 1024 ** 2),
      ...env,
    },
  });
  await service.ready;
  return { ...service, schema, close: () => service.app.close() };
}
