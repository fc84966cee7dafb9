import { describe, expect, it } from 'vitest';
import { bucketByWeek } from './expiries';
import { DAY_MS } from './timeline';
import type { License } from './types';

describe('bucketByWeek', () => {
  const now = Date.parse('2026-01-01T00:00:00.000Z');
  const expiring = (sku: string, days: number | null): License => ({
    licenseId: `${sku}-${days}`,
    serial: 'AAAAAAAAAAAA',
    sku,
    trial: false,
    expiresAt: days === null ? null : new Date(now + days * DAY_MS).toISOString(),
    status: 'active',
    grantedAt: new Date(now).toISOString(),
    revokedAt: null,
  });

  it('counts each expiry of the next 90 days in its week from now, and nothing else', () => {
    const buckets = bucketByWeek(
      [
        expiring('IPS', 1),
        expiring('IPS', 6.9),
        expiring('GATEWAY_AV', 7),
        expiring('IPS', 89),
        expiring('IPS', 90),
        expiring('IPS', -1),
        expiring('IPS', null),
      ],
      now,
    );
    expect(buckets).toHaveLength(13);
    expect(buckets.map((b) => b.count)).toEqual([2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect([...buckets[0]!.skus]).toEqual([['IPS', 2]]);
  });
});
