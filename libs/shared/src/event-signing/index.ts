/** Signed events (producers sign in the outbox relay, consumers verify before applying) and the key files. */
export * from './event-signature.js';
export * from './event-key-ring.js';
export * from './pem-key-files.js';
export * from './signature-verifier.js';
export * from './jwk.js';
