import { BoundedMap } from '../runtime/bounded-map.js';
import { API_KEY_PATTERN, hashApiKey, sameHash, type Principal } from './api-keys.js';

/** The bootstrap operator key's holder (OPERATOR_API_KEY): configuration, not a row; rotate it by restarting. */
export const BOOTSTRAP_OPERATOR: Principal = { keyId: 'bootstrap-operator', role: 'operator', accountId: null };

/** Finds the holder of an active key by the key's hash (pairing: its table; the others: pairing over NATS). */
export type ApiKeyDirectory = (keyHash: string) => Promise<Principal | null>;

/**
 * Who holds a presented key: the bootstrap operator key is checked locally in constant time; a key that is not
 * of the form every issued key has (`hlsk_` + 43) is unknown without asking; every other key goes to the
 * directory. With `cacheMs > 0` answers (holders and unknown keys alike) are kept that long, so a revocation
 * takes effect everywhere within `cacheMs`. With `unknownCacheMs > 0` only "unknown" answers are kept (pairing:
 * a revocation still takes effect at once, and a flood of one unknown key costs one lookup per `unknownCacheMs`);
 * `keyCreated` drops a new key's entry. The cache holds at most `maxEntries`, the oldest going first. A directory
 * failure is not cached and reaches the caller.
 */
export class ApiKeyVerifier {
  private readonly cache: BoundedMap<string, { principal: Principal | null; until: number }>;

  private readonly cacheMs: number;
  private readonly unknownCacheMs: number;
  private readonly now: () => number;
  /** Counts keyCreated calls: a lookup that overlapped one does not cache "unknown". */
  private creations = 0;

  constructor(
    private readonly bootstrapHash: string,
    private readonly directory: ApiKeyDirectory,
    options: {
      cacheMs?: number;
      unknownCacheMs?: number;
      now?: () => number;
      maxEntries?: number;
    } = {},
  ) {
    this.cacheMs = options.cacheMs ?? 0;
    this.unknownCacheMs = options.unknownCacheMs ?? 0;
    this.now = options.now ?? Date.now;
    this.cache = new BoundedMap(options.maxEntries ?? 10_000);
  }

  async verify(key: string): Promise<Principal | null> {
    const hash = hashApiKey(key);
    if (sameHash(hash, this.bootstrapHash)) return BOOTSTRAP_OPERATOR;
    if (!API_KEY_PATTERN.test(key)) return null;
    const cached = this.cache.get(hash);
    if (cached && cached.until > this.now()) return cached.principal;
    const creations = this.creations;
    const principal = await this.directory(hash);
    const keepMs = principal === null ? Math.max(this.cacheMs, this.unknownCacheMs) : this.cacheMs;
    if (keepMs > 0 && (principal !== null || creations === this.creations)) this.remember(hash, principal, keepMs);
    return principal;
  }

  /** A key with this hash was just created: forget that it was unknown. */
  keyCreated(keyHash: string): void {
    this.creations++;
    this.cache.delete(keyHash);
  }

  private remember(hash: string, principal: Principal | null, keepMs: number): void {
    this.cache.set(hash, { principal, until: this.now() + keepMs });
  }
}
