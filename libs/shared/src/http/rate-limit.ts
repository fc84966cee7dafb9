import { HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Response } from 'express';
import type { Principal } from '../auth/api-keys.js';
import { ServiceRuntime } from '../runtime/service-runtime.js';

/**
 * One token bucket per key: `perMinute` tokens of burst, refilled continuously at `perMinute` a minute. Pure
 * (the clock is injected), in memory, per service process. Only keys that authenticated get a bucket, so the
 * map grows with the number of real keys, not with what clients send; idle full buckets are dropped.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes a token of `key`'s bucket: allowed, or refused with the whole seconds until a token is back. */
  take(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 10_000) this.forgetFull(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
  }

  private forgetFull(now: number): void {
    for (const [key, bucket] of this.buckets)
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(key);
  }
}

/**
 * The per-key rate limit (RATE_LIMIT_PER_MINUTE per key and service): 429 RATE_LIMITED with Retry-After.
 * Runs after the AuthGuard; public routes (no caller) are not limited.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly buckets: TokenBuckets;

  constructor(@Inject(ServiceRuntime) runtime: ServiceRuntime) {
    this.buckets = new TokenBuckets(runtime.config.rateLimitPerMinute);
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const principal = context.switchToHttp().getRequest<{ principal?: Principal }>().principal;
    if (!principal) return true;
    const verdict = this.buckets.take(principal.keyId);
    if (verdict.allowed) return true;
    context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(verdict.retryAfterSeconds));
    throw new HttpException(
      { code: 'RATE_LIMITED', message: `Too many requests with this API key; retry after ${verdict.retryAfterSeconds} s.` },
      429,
    );
  }
}
