import { ProductLookupResponder } from './application/view-products/product-lookup.responder.js';
import { PAIRING_MIGRATIONS } from './infrastructure/migrations.js';
import { PairingModule } from './pairing.module.js';
import { configOrExit, runService } from '#shared';

const config = configOrExit({ service: 'pairing', portVariable: 'PAIRING_PORT', defaultPort: 3001, defaultDatabase: 'ha_pairing' });

const service = await runService(() => PairingModule, {
  config,
  migrations: PAIRING_MIGRATIONS,
  publishes: 'pairing',
  onConnected: () => service.app.get(ProductLookupResponder).listen(),
});
