import { z } from 'zod';
import { AccountId, ApiKeyRole } from './api-keys.js';

/**
 * Request/reply contract (core NATS, subject `busNames().apiKeyLookup`): licensing and the sync agent ask
 * pairing, which owns the keys, who holds a key. Only the key's SHA-256 travels, never the key.
 */
export const ApiKeyLookupRequestV1 = z.strictObject({ keyHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex') });
export type ApiKeyLookupRequestV1 = z.infer<typeof ApiKeyLookupRequestV1>;

/** The key's holder, or null when no active key has that hash (unknown or revoked). */
export const ApiKeyLookupReplyV1 = z
  .object({ keyId: z.string().min(1), role: ApiKeyRole, accountId: AccountId.nullable() })
  .nullable();
export type ApiKeyLookupReplyV1 = z.infer<typeof ApiKeyLookupReplyV1>;
