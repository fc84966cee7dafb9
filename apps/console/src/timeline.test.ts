import { describe, expect, it } from 'vitest';
import { DAY_MS, buildTimeline, changeInstants } from './timeline';
import type { License, LicenseHistoryEntry } from './types';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (days: number) => new Date(T0 + days * DAY_MS).toISOString();

function license(
  licenseId: string,
  sku: string,
  grantedDay: number,
  expiresDay: number | null,
  revokedDay: number | null = null,
): License {
  return {
    licenseId,
    serial: 'AAAAAAAAAAAA',
    sku,
    trial: false,
    expiresAt: expiresDay === null ? null : iso(expiresDay),
    status: revokedDay === null ? 'active' : 'revoked',
    grantedAt: iso(grantedDay),
    revokedAt: revokedDay === null ? null : iso(revokedDay),
  };
}

function entry(eventId: string, change: LicenseHistoryEntry['change'], day: number, actor: string | null): LicenseHistoryEntry {
  return {
    eventId,
    type: 'EntitlementChanged',
    change,
    at: iso(day),
    effectiveAt: iso(day),
    actor,
    license: { ...license('x', 'X', 0, null), status: 'active' },
  };
}

describe('buildTimeline', () => {
  const now = T0 + 100 * DAY_MS;
  const gav = license('l1', 'GATEWAY_AV', 10, 200);
  const ips = license('l2', 'IPS', 20, 300, 50);
  const timeline = buildTimeline(
    [
      {
        unit: 'primary',
        serial: 'AAAAAAAAAAAA',
        licenses: [ips, gav],
        histories: new Map([
          ['l1', [entry('e1', 'granted', 10, 'key-1'), entry('e2', 'renewed', 40, 'key-2')]],
          ['l2', [entry('e3', 'granted', 20, 'key-1'), entry('e4', 'revoked', 50, null)]],
        ]),
      },
      { unit: 'secondary', serial: 'BBBBBBBBBBBB', licenses: [], histories: new Map() },
    ],
    now,
    T0 + 5 * DAY_MS,
  );

  it('starts at the earliest of the given instant and the first grant, and reaches a quarter of the past into the future', () => {
    expect(timeline.start).toBe(T0 + 5 * DAY_MS);
    expect(timeline.end).toBe(now + (now - timeline.start) / 4);
  });

  it('has a row per unit and SKU, with bars that end at a revocation or run on past the edge', () => {
    expect(timeline.rows.map((r) => r.key)).toEqual(['primary:GATEWAY_AV', 'primary:IPS']);
    const [gavBar] = timeline.rows[0]!.bars;
    expect(gavBar).toMatchObject({ start: T0 + 10 * DAY_MS, end: timeline.end, open: true });
    const [ipsBar] = timeline.rows[1]!.bars;
    expect(ipsBar).toMatchObject({ end: T0 + 50 * DAY_MS, open: false, status: 'revoked' });
  });

  it('marks every change, oldest first, with who made it', () => {
    expect(timeline.markers.map((m) => [m.kind, m.sku, m.actor])).toEqual([
      ['granted', 'GATEWAY_AV', 'key-1'],
      ['granted', 'IPS', 'key-1'],
      ['renewed', 'GATEWAY_AV', 'key-2'],
      ['revoked', 'IPS', null],
    ]);
    expect(changeInstants(timeline, [T0 + 10 * DAY_MS, T0 + 99 * DAY_MS])).toEqual(
      [10, 20, 40, 50, 99].map((d) => T0 + d * DAY_MS),
    );
  });
});
