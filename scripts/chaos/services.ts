/**
 * The services under test, started as separate processes by the end-to-end harness (test/support/system.ts,
 * compiled with this script), here against the chaos run's private PostgreSQL and nats-server.
 */
export {
  SERVICES,
  freePort,
  schemaOf,
  startSystem,
  type PostgresServer,
  type RunningSystem,
  type ServiceName,
} from '../../test/support/system.js';
