import { ExpiryScheduler } from './application/expiry-scheduler/expiry-scheduler.js';
import { LicenseAccounts } from './application/list-licenses/license-accounts.js';
import { LicenseTransfers } from './application/transfer-licenses/license-transfers.js';
import { licensingConsumers } from './application/transfer-licenses/transfer-consumers.js';
import { LICENSING_MIGRATIONS } from './infrastructure/migrations.js';
import { LicensingModule } from './licensing.module.js';
import { configOrExit, runService } from '#shared';

const config = configOrExit({
  service: 'licensing',
  portVariable: 'LICENSING_PORT',
  defaultPort: 3002,
  defaultDatabase: 'ha_licensing',
});

await runService(
  () => LicensingModule,
  { config, migrations: LICENSING_MIGRATIONS, publishes: 'licensing' },
  (runtime, app) => {
    // Pairing's replacements move the failed unit's licenses to its successor.
    const transfers = app.get(LicenseTransfers);
    runtime.consume({
      sources: ['pairing'],
      consumers: licensingConsumers,
      handler: transfers.handle,
    });
    // Stopped by Nest's shutdown hook, before the runtime closes the database.
    const scheduler = app.get(ExpiryScheduler);
    runtime.whenConnected(() => scheduler.start());
    // Licenses granted before licenses_view recorded accounts get theirs from pairing.
    const accounts = app.get(LicenseAccounts);
    runtime.whenConnected(() => accounts.start());
  },
);
