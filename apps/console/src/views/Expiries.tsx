import { useMemo } from 'react';
import { allPages, query, type Client } from '../api';
import { EXPIRY_HORIZON_DAYS, bucketByWeek } from '../expiries';
import { formatDate, formatInstant } from '../format';
import { usePolled } from '../hooks';
import { DAY_MS } from '../timeline';
import type { License, Page } from '../types';
import { ErrorNote } from './ErrorNote';

const CHART_WIDTH = 1000;
const CHART_HEIGHT = 220;
const PADDING = { top: 16, right: 10, bottom: 36, left: 40 };

/** Active licenses expiring within 90 days: a weekly bar chart, and the list behind it (soonest first). */
export function Expiries({ client }: { client: Client }) {
  const expiring = usePolled(
    async () => {
      const now = Date.now();
      const before = new Date(now + EXPIRY_HORIZON_DAYS * DAY_MS).toISOString();
      const result = await allPages<License>((cursor) =>
        client.get<Page<License>>(
          'licensing',
          `/licenses${query({ status: 'active', expiresBefore: before, limit: 200, cursor })}`,
        ),
      );
      return { ...result, now };
    },
    [client],
    30_000,
  );
  const buckets = useMemo(() => (expiring.value ? bucketByWeek(expiring.value.items, expiring.value.now) : []), [expiring.value]);
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const innerWidth = CHART_WIDTH - PADDING.left - PADDING.right;
  const innerHeight = CHART_HEIGHT - PADDING.top - PADDING.bottom;
  const barWidth = buckets.length ? innerWidth / buckets.length : 0;
  const items = expiring.value?.items ?? [];

  return (
    <section aria-labelledby="expiries-title">
      <h1 id="expiries-title">Upcoming expiries</h1>
      <p className="muted">Active licenses whose expiry falls within the next {EXPIRY_HORIZON_DAYS} days, per week.</p>
      <ErrorNote error={expiring.error} what="the upcoming expiries" />
      {expiring.value && (
        <figure className="chart">
          <svg viewBox={`0 0 ${CHART_WIDTH} ${CHART_HEIGHT}`} role="img" aria-labelledby="expiry-chart-title">
            <title id="expiry-chart-title">
              {`${items.length} licenses expire within ${EXPIRY_HORIZON_DAYS} days; ${buckets
                .filter((b) => b.count > 0)
                .map((b) => `${b.count} in the week of ${formatDate(b.start)}`)
                .join(', ')}`}
            </title>
            <line
              x1={PADDING.left}
              x2={CHART_WIDTH - PADDING.right}
              y1={PADDING.top + innerHeight}
              y2={PADDING.top + innerHeight}
              className="axis-line"
            />
            <text x={PADDING.left - 6} y={PADDING.top + 4} className="axis" textAnchor="end">
              {max}
            </text>
            <text x={PADDING.left - 6} y={PADDING.top + innerHeight} className="axis" textAnchor="end">
              0
            </text>
            {buckets.map((b, i) => {
              const h = (b.count / max) * innerHeight;
              const x = PADDING.left + i * barWidth;
              return (
                <g key={b.start}>
                  <rect x={x + 4} y={PADDING.top + innerHeight - h} width={barWidth - 8} height={h} className="expiry-bar">
                    <title>{`Week of ${formatDate(b.start)}: ${b.count} (${[...b.skus].map(([sku, n]) => `${sku} ${n}`).join(', ') || 'none'})`}</title>
                  </rect>
                  {b.count > 0 && (
                    <text x={x + barWidth / 2} y={PADDING.top + innerHeight - h - 4} className="axis" textAnchor="middle">
                      {b.count}
                    </text>
                  )}
                  {i % 2 === 0 && (
                    <text x={x + barWidth / 2} y={CHART_HEIGHT - 14} className="axis" textAnchor="middle">
                      {formatDate(b.start).slice(5)}
                    </text>
                  )}
                </g>
              );
            })}
          </svg>
          <figcaption className="muted">Weeks start today; the table below lists every license in the chart.</figcaption>
        </figure>
      )}
      {expiring.value && (
        <table className="expiries">
          <caption>
            {items.length} {items.length === 1 ? 'license' : 'licenses'}, soonest first
            {expiring.value.complete ? '' : ' (the first ones only: narrow by account)'}
          </caption>
          <thead>
            <tr>
              <th scope="col">Expires</th>
              <th scope="col">SKU</th>
              <th scope="col">Unit</th>
              <th scope="col">Trial</th>
              <th scope="col">License</th>
            </tr>
          </thead>
          <tbody>
            {items.map((l) => (
              <tr key={l.licenseId}>
                <td>{formatInstant(l.expiresAt)}</td>
                <td>{l.sku}</td>
                <td>{l.serial}</td>
                <td>{l.trial ? 'yes' : 'no'}</td>
                <td className="mono">{l.licenseId.slice(0, 8)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
