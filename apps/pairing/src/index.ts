/** What pairing offers the project's tools (contract documents): its module and its API description. */
export { PAIRING_SERVICE, PairingModule } from './pairing.module.js';
export { PAIRING_API, PAIRING_SCHEMAS } from './pairing.api.js';
export { pairStreamId, productStreamId } from './application/pairing-store.js';
