import { runService } from '#shared';
import { LICENSING_SERVICE, LicensingModule } from './licensing.module.js';

await runService(LicensingModule, LICENSING_SERVICE);
