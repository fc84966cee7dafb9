import { runService } from '#shared';
import { PAIRING_SERVICE, PairingModule } from './pairing.module.js';

await runService(PairingModule, PAIRING_SERVICE);
