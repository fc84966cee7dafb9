import { hashApiKey, sameHash, type Principal } from './api-keys.js';

/** The bootstrap operator key's holder (OPERATOR_API_KEY): configuration, not a row; rotate it by restarting. */
export const BOOTSTRAP_OPERATOR: Principal = { keyId: 'bootstrap-operator', role: 'operator', accountId: null };

/** Finds the holder of an active key by the key's hash (pairing: its table; the others: pairing over NATS). */
export type ApiKeyDirectory = (keyHash: string) => Promise<Principal | null>;

/**
 * Who holds a presented key: the bootstrap operator key is checked locally in constant time, every other key
 * through the directory. With `cacheMs > 0` answers (holders and unknown keys alike) are kept that long, so a
 * revocation takes effect everywhere within `cacheMs`; a directory failure is not cached and reaches the caller.
 */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(
    private readonly bootstrapHash: string,
    private readonly directory: ApiKeyDirectory,
    options: { cacheMs?: number; now?: () => number; maxEntries?: number; close?: () => Promise<void> } = {},
  ) {
    this.cacheMs = options.cacheMs ?? 0;
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.close = options.close ?? (() => Promise.resolve());
  }

  /** Releases the directory's connection (at shutdown). */
  readonly close: () => Promise<void>;

  async verify(key: string): Promise<Principal | null> {
    const hash = hashApiKey(key);
    if (sameHash(hash, this.bootstrapHash)) return BOOTSTRAP_OPERATOR;
    if (this.cacheMs <= 0) return this.directory(hash);
    const cached = this.cache.get(hash);
    if (cached && cached.until > this.now()) return cached.principal;
    const principal = await this.directory(hash);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(hash, { principal, until: this.now() + this.cacheMs });
    return principal;
  }
}
