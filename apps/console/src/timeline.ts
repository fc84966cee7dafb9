/**
 * The pair page's timeline as data: one row per unit and SKU with a bar per license (granted until revoked, expired or
 * now, and on to a future expiry), and a marker per change of a license (grant, renewal, revocation, transfer, expiry)
 * with who made it. Pure, so the drawing is a matter of scales.
 */
import type { License, LicenseChange, LicenseHistoryEntry } from './types';

export const DAY_MS = 86_400_000;

/** What the timeline is drawn from for one unit. */
export interface UnitLicenses {
  readonly unit: 'primary' | 'secondary';
  readonly serial: string;
  readonly licenses: readonly License[];
  /** Each license's history, by license id (missing: not read yet). */
  readonly histories: ReadonlyMap<string, readonly LicenseHistoryEntry[]>;
}

export interface Bar {
  readonly licenseId: string;
  readonly start: number;
  readonly end: number;
  /** Runs past the right edge (perpetual, or expiring after it). */
  readonly open: boolean;
  readonly status: License['status'];
  readonly trial: boolean;
}

export interface Row {
  readonly key: string;
  readonly unit: 'primary' | 'secondary';
  readonly serial: string;
  readonly sku: string;
  readonly bars: readonly Bar[];
}

export interface Marker {
  readonly key: string;
  readonly at: number;
  readonly kind: LicenseChange;
  readonly rowKey: string;
  readonly unit: 'primary' | 'secondary';
  readonly serial: string;
  readonly sku: string;
  readonly licenseId: string;
  readonly actor: string | null;
}

export interface Timeline {
  readonly start: number;
  readonly end: number;
  readonly rows: readonly Row[];
  /** Oldest first. */
  readonly markers: readonly Marker[];
}

/** How far past now the timeline reaches at most, to show upcoming expiries without squashing the past. */
export const FUTURE_SPAN_MS = 120 * DAY_MS;
/** The future takes at most this share of the past's width, so that history stays readable whatever its length. */
const FUTURE_SHARE = 0.25;

const rowKeyOf = (unit: string, sku: string) => `${unit}:${sku}`;

/**
 * Builds the timeline of a pair's units. `from` is the earliest instant to show (e.g. the association); the
 * timeline starts at the earlier of it and the first grant, and reaches past now towards the latest expiry still to
 * come, by at most a quarter of the past's span and FUTURE_SPAN_MS (bars running on past the edge are marked open).
 */
export function buildTimeline(units: readonly UnitLicenses[], now: number, from: number): Timeline {
  const rows = new Map<string, Row & { bars: Bar[] }>();
  const markers: Marker[] = [];
  let start = from;
  let latestExpiry = now;
  for (const { unit, serial, licenses, histories } of units) {
    for (const license of [...licenses].sort((a, b) => a.sku.localeCompare(b.sku) || a.grantedAt.localeCompare(b.grantedAt))) {
      const key = rowKeyOf(unit, license.sku);
      const row = rows.get(key) ?? { key, unit, serial, sku: license.sku, bars: [] };
      rows.set(key, row);
      const granted = Date.parse(license.grantedAt);
      const expires = license.expiresAt === null ? null : Date.parse(license.expiresAt);
      const revoked = license.revokedAt === null ? null : Date.parse(license.revokedAt);
      start = Math.min(start, granted);
      if (expires !== null && revoked === null && expires > now) latestExpiry = Math.max(latestExpiry, expires);
      const end = revoked ?? expires ?? Number.POSITIVE_INFINITY;
      row.bars.push({
        licenseId: license.licenseId,
        start: granted,
        end,
        open: false,
        status: license.status,
        trial: license.trial,
      });
      for (const entry of histories.get(license.licenseId) ?? []) {
        if (entry.change === null) continue;
        markers.push({
          key: entry.eventId,
          at: Date.parse(entry.change === 'expired' ? entry.effectiveAt : entry.at),
          kind: entry.change,
          rowKey: key,
          unit,
          serial,
          sku: license.sku,
          licenseId: license.licenseId,
          actor: entry.actor,
        });
      }
    }
  }
  start = Math.min(start, now);
  const future = Math.min(latestExpiry - now, FUTURE_SPAN_MS, Math.max((now - start) * FUTURE_SHARE, 1_000));
  const end = now + Math.max(future, 0);
  const clipped = [...rows.values()].map((row) => ({
    ...row,
    bars: row.bars.map((bar) => ({ ...bar, end: Math.min(bar.end, end), open: bar.end > end })),
  }));
  clipped.sort((a, b) => (a.unit === b.unit ? a.sku.localeCompare(b.sku) : a.unit === 'primary' ? -1 : 1));
  markers.sort((a, b) => a.at - b.at || a.key.localeCompare(b.key));
  return { start, end, rows: clipped, markers };
}

/** The change instants of the timeline (and the pair's own), each once, oldest first: where "previous/next change" stop. */
export function changeInstants(timeline: Timeline, extra: readonly number[]): number[] {
  return [...new Set([...timeline.markers.map((m) => m.at), ...extra])].sort((a, b) => a - b);
}

/** What a marker's kind reads as. */
export const CHANGE_LABEL: Readonly<Record<LicenseChange, string>> = {
  granted: 'granted',
  renewed: 'renewed',
  revoked: 'revoked',
  expired: 'expired',
  transferred: 'transferred',
};
