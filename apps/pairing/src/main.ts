import { configOrExit, natsTransportOptions, runService } from '#shared';
import { PAIRING_MIGRATIONS } from './infrastructure/migrations.js';
import { PairingModule } from './pairing.module.js';

const config = configOrExit({
  service: 'pairing',
  portVariable: 'PAIRING_PORT',
  defaultPort: 3001,
  defaultDatabase: 'ha_pairing',
});

await runService(
  (runtime) => PairingModule.forBus(runtime.names),
  { config, migrations: PAIRING_MIGRATIONS, publishes: 'pairing', ownsApiKeys: true },
  (runtime, app) =>
    // Request/reply starts once NATS is reachable, so a NATS outage at start delays it instead of failing.
    runtime.whenConnected(async () => {
      app.connectMicroservice(natsTransportOptions(config, { queue: 'pairing' }));
      await app.startAllMicroservices();
    }),
);
