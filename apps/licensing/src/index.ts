/**
 * What licensing offers the project's tools: the durable consumers it reads with (bus setup creates them), its
 * module and its API description (contract documents).
 */
export { licensingConsumers } from './application/transfer-licenses/transfer-consumers.js';
export { LICENSING_SERVICE, LicensingModule } from './licensing.module.js';
export { LICENSING_API, LICENSING_SCHEMAS } from './licensing.api.js';
export { licenseStreamId } from './domain/license/license.events.js';
