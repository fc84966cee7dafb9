import { LICENSING_MIGRATIONS } from './infrastructure/migrations.js';
import { LicensingModule } from './licensing.module.js';
import { configOrExit, runService } from '#shared';

const config = configOrExit({
  service: 'licensing',
  portVariable: 'LICENSING_PORT',
  defaultPort: 3002,
  defaultDatabase: 'ha_licensing',
});

await runService(() => LicensingModule, { config, migrations: LICENSING_MIGRATIONS, publishes: 'licensing' });
