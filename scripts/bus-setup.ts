/**
 * `npm run bus:setup`: creates or updates the JetStream streams and the services' durable consumers, with the
 * bus user given in NATS_USER / NATS_PASSWORD (the admin user of deploy/nats/permissions.conf; none against a
 * server without authorization). Same NATS_URL, NATS_TLS_*, BUS_NAMESPACE and STREAM_REPLICAS variables as the
 * services. Run before the services start (`npm start` and docker-compose do): their own users may not administer
 * the bus.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { busNames, configOrExit, connectNats, setupBus } from '#shared';
import { licensingConsumers } from '../apps/licensing/src/index.js';
import { projectionConsumers } from '../apps/sync-agent/src/index.js';

const config = configOrExit({
  service: 'bus-setup',
  portVariable: 'BUS_SETUP_PORT',
  defaultPort: 1,
  defaultDatabase: 'postgres',
});
const names = busNames(config.busNamespace);
const log = (message: string) => console.log(`[bus-setup] ${message}`);
const nc = await connectNats(config.nats, 'bus-setup', AbortSignal.timeout(60_000));
try {
  await setupBus(await jetstreamManager(nc), names, [...licensingConsumers(names), ...projectionConsumers(names)], log, {
    maxBytes: config.streamMaxBytes,
    replicas: config.streamReplicas,
  });
  log('done');
} catch (error) {
  console.error(`[bus-setup] failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await nc.close();
}
