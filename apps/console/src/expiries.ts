/** Upcoming expiries bucketed by week, for the chart above the list. */
import { DAY_MS } from './timeline';
import type { License } from './types';

export const EXPIRY_HORIZON_DAYS = 90;

export interface WeekBucket {
  /** The bucket's first instant (now + 7·i days). */
  readonly start: number;
  readonly count: number;
  /** Per SKU, for the bar's tooltip. */
  readonly skus: ReadonlyMap<string, number>;
}

/** Licenses expiring in [now, now + horizon) counted in 7-day buckets from now (13 of them for 90 days). */
export function bucketByWeek(licenses: readonly License[], now: number, horizonDays = EXPIRY_HORIZON_DAYS): WeekBucket[] {
  const count = Math.ceil(horizonDays / 7);
  const buckets = Array.from({ length: count }, (_, i) => ({
    start: now + i * 7 * DAY_MS,
    count: 0,
    skus: new Map<string, number>(),
  }));
  for (const license of licenses) {
    if (license.expiresAt === null) continue;
    const at = Date.parse(license.expiresAt);
    if (at < now || at >= now + horizonDays * DAY_MS) continue;
    const bucket = buckets[Math.floor((at - now) / (7 * DAY_MS))];
    if (!bucket) continue;
    bucket.count++;
    bucket.skus.set(license.sku, (bucket.skus.get(license.sku) ?? 0) + 1);
  }
  return buckets;
}
