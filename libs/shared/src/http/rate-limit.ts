import { HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Response } from 'express';
import type { Principal } from '../auth/api-keys.js';
import type { ServiceConfig } from '../config/service-config.js';
import { SERVICE_CONFIG } from '../runtime/service.module.js';

/** A bucket's answer: a token was there (and is taken), or the whole seconds until one is back. */
export type Verdict = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/** How a set of token buckets fills: `perMinute` tokens a minute, continuously, up to `burst`. */
export interface BucketSettings {
  readonly perMinute: number;
  readonly burst: number;
  /** The most buckets kept; past it, full buckets go first, then the longest untouched (default 10,000). */
  readonly maxEntries?: number;
}

const ALLOWED: Verdict = { allowed: true };

/**
 * One token bucket per key: `burst` tokens at most, refilled continuously at `perMinute` a minute, so over
 * any window of T seconds at most `burst + perMinute × T / 60` requests pass. Pure (the clock is injected), in
 * memory, per service process, and bounded: at `maxEntries` the full buckets are dropped (a full bucket is the
 * same as none), and if that is not enough the longest untouched ones.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;
  private readonly burst: number;
  private readonly maxEntries: number;

  constructor(
    settings: BucketSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = settings.perMinute / 60_000;
    this.burst = settings.burst;
    this.maxEntries = settings.maxEntries ?? 10_000;
  }

  /** Takes a token of `key`'s bucket: allowed, or refused with the whole seconds until a token is back. */
  take(key: string): Verdict {
    const now = this.now();
    const tokens = this.tokensAt(key, now);
    const allowed = tokens >= 1;
    this.store(key, allowed ? tokens - 1 : tokens, now);
    return allowed ? ALLOWED : this.refusal(tokens);
  }

  /**
   * Takes a token of `key`'s bucket whether or not one is left, down to `-burst` at most: for costs already
   * paid (a refused key was looked up), so that requests admitted together while one token was left are each
   * charged, and the key waits until the debt is refilled.
   */
  charge(key: string): void {
    const now = this.now();
    this.store(key, Math.max(-this.burst, this.tokensAt(key, now) - 1), now);
  }

  /** Whether `key`'s bucket holds a token, without taking it (and without making a bucket for it). */
  peek(key: string): Verdict {
    const tokens = this.tokensAt(key, this.now());
    return tokens >= 1 ? ALLOWED : this.refusal(tokens);
  }

  /** How many buckets are kept (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }

  private tokensAt(key: string, now: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return this.burst;
    return Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.perMs);
  }

  private refusal(tokens: number): Verdict {
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000)) };
  }

  private store(key: string, tokens: number, now: number): void {
    // Re-inserted, so the map's order is least recently touched first.
    this.buckets.delete(key);
    this.buckets.set(key, { tokens, at: now });
    if (this.buckets.size <= this.maxEntries) return;
    for (const [k, b] of this.buckets)
      if (b.tokens + (now - b.at) * this.perMs >= this.burst && k !== key) this.buckets.delete(k);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= this.maxEntries) break;
      this.buckets.delete(k);
    }
  }
}

/**
 * The per-key rate limit (RATE_LIMIT_PER_MINUTE per key and service, bursts of RATE_LIMIT_BURST): 429
 * RATE_LIMITED with Retry-After. Runs after the AuthGuard; public routes (no caller) are not limited.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly buckets: TokenBuckets;

  constructor(@Inject(SERVICE_CONFIG) config: ServiceConfig) {
    this.buckets = new TokenBuckets({ perMinute: config.rateLimitPerMinute, burst: config.rateLimitBurst });
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const principal = context.switchToHttp().getRequest<{ principal?: Principal }>().principal;
    if (!principal) return true;
    const verdict = this.buckets.take(principal.keyId);
    if (verdict.allowed) return true;
    throw tooManyRequests(
      context.switchToHttp().getResponse<Response>(),
      verdict.retryAfterSeconds,
      `Too many requests with this API key; retry after ${verdict.retryAfterSeconds} s.`,
    );
  }
}

/** 429 RATE_LIMITED with its Retry-After header set on the response (the problem filter keeps it). */
export function tooManyRequests(response: Response, retryAfterSeconds: number, message: string): HttpException {
  response.setHeader('Retry-After', String(retryAfterSeconds));
  return new HttpException({ code: 'RATE_LIMITED', message }, 429);
}
