/**
 * `npm run bus:setup`: creates or updates the JetStream streams and the services' durable consumers, with the
 * bus user given in NATS_USER / NATS_PASSWORD (the admin user of deploy/nats/permissions.conf; none against a
 * server without authorization). Same NATS_URL, NATS_TLS_*, BUS_NAMESPACE and STREAM_REPLICAS variables as the
 * services. Run before the services start (`npm start` and docker-compose do): their own users may not administer
 * the bus. It is the services' bus module alone: the same connection, and the consumers the services declare.
 */
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { BUS_NAMES, Bus, BusModule, ServiceModule, configOrExit, setupBus, type BusNames } from '#shared';
import { licensingConsumers } from '../apps/licensing/src/index.js';
import { projectionConsumers } from '../apps/sync-agent/src/index.js';

const config = configOrExit({
  service: 'bus-setup',
  portVariable: 'BUS_SETUP_PORT',
  defaultPort: 1,
  defaultDatabase: 'postgres',
});
const log = (message: string) => console.log(`[bus-setup] ${message}`);

@Module({
  imports: [
    ServiceModule.forRoot({
      config,
      log: { log, warn: (message) => console.warn(`[bus-setup] ${message}`), error: (m) => console.error(`[bus-setup] ${m}`) },
    }),
    BusModule,
  ],
})
class BusSetupModule {}

const app = await NestFactory.createApplicationContext(BusSetupModule, { logger: false });
const bus = app.get(Bus);
const names = app.get<BusNames>(BUS_NAMES);
try {
  await bus.connect(AbortSignal.timeout(60_000));
  await setupBus(bus.jsm, names, [...licensingConsumers(names), ...projectionConsumers(names)], log, {
    maxBytes: config.streamMaxBytes,
    replicas: config.streamReplicas,
  });
  log('done');
} catch (error) {
  console.error(`[bus-setup] failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await bus.close();
  await app.close();
}
