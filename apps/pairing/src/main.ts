import { configOrExit, runService } from '#shared';
import { PAIRING_MIGRATIONS } from './infrastructure/migrations.js';
import { PairingModule } from './pairing.module.js';

const config = configOrExit({
  service: 'pairing',
  portVariable: 'PAIRING_PORT',
  defaultPort: 3001,
  defaultDatabase: 'ha_pairing',
});

await runService(() => PairingModule, { config, migrations: PAIRING_MIGRATIONS, publishes: 'pairing', ownsApiKeys: true });
