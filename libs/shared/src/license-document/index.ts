/** Signed license documents: issue (sync agent), publish keys, and verify offline (appliances, the CLI). */
export * from './canonical-json.js';
export * from './license-document.js';
export * from './signing-key-set.js';
export * from './verify-license-document.js';
