import { useState } from 'react';
import { allPages, query, type Client } from '../api';
import { formatInstant } from '../format';
import { usePolled } from '../hooks';
import { STATUS_LABEL, groupByAccount, readinessStatus } from '../readiness';
import type { ReadinessPage, ReadinessReport } from '../types';
import { ErrorNote } from './ErrorNote';

/** How often the grid is read again. */
export const FLEET_REFRESH_MS = 4_000;

/** Every associated pair the key may see, grouped by account: red, amber or green, with its gaps; read every few seconds. */
export function Fleet({ client, refreshMs = FLEET_REFRESH_MS }: { client: Client; refreshMs?: number }) {
  const [onlyNotReady, setOnlyNotReady] = useState(false);
  const readiness = usePolled(
    () =>
      allPages<ReadinessReport>(async (cursor) => {
        const page = await client.get<ReadinessPage>(
          'sync-agent',
          `/pairs/readiness${query({ limit: 200, cursor, ready: onlyNotReady ? 'false' : undefined })}`,
        );
        return { items: page.pairs, nextCursor: page.nextCursor };
      }),
    [client, onlyNotReady],
    refreshMs,
  );
  const reports = readiness.value?.items ?? [];
  const notReady = reports.filter((r) => !r.ready).length;

  return (
    <section aria-labelledby="fleet-title">
      <div className="page-head">
        <h1 id="fleet-title">Fleet readiness</h1>
        <label className="toggle">
          <input type="checkbox" checked={onlyNotReady} onChange={(e) => setOnlyNotReady(e.target.checked)} />
          Only pairs that are not ready
        </label>
      </div>
      <p className="muted" aria-live="polite">
        {readiness.value === undefined
          ? 'Loading…'
          : `${reports.length} ${reports.length === 1 ? 'pair' : 'pairs'}, ${notReady} not ready` +
            (readiness.value.complete ? '' : ' (more pairs than one screen: narrow the list)') +
            ` · checked ${formatInstant(readiness.refreshedAt?.toISOString() ?? null, true)}`}
      </p>
      <ErrorNote error={readiness.error} what="the readiness of the fleet" />
      {readiness.value !== undefined && reports.length === 0 && <p>No associated pairs to show.</p>}
      {groupByAccount(reports).map(([account, pairs]) => (
        <section key={account} className="account" aria-labelledby={`account-${account}`}>
          <h2 id={`account-${account}`}>
            Account {account}{' '}
            <span className="muted">
              ({pairs.filter((p) => !p.ready).length} of {pairs.length} not ready)
            </span>
          </h2>
          <ul className="grid">
            {pairs.map((report) => (
              <PairTile key={report.pairId} report={report} />
            ))}
          </ul>
        </section>
      ))}
    </section>
  );
}

function PairTile({ report }: { report: ReadinessReport }) {
  const status = readinessStatus(report);
  return (
    <li className={`tile tile-${status}`} data-pair-id={report.pairId} data-status={status}>
      <a
        href={`#/pairs/${report.pairId}`}
        aria-label={`Pair ${report.primarySerial} and ${report.secondarySerial}: ${STATUS_LABEL[status]}`}
      >
        <span className="tile-status">
          <span aria-hidden="true" className="glyph">
            {status === 'ready' ? '✔' : status === 'warning' ? '!' : '✖'}
          </span>{' '}
          {STATUS_LABEL[status]}
        </span>
        <span className="tile-units">
          <span title="Primary">{report.primarySerial}</span>
          <span aria-hidden="true"> ⇄ </span>
          <span title="Secondary">{report.secondarySerial}</span>
        </span>
        <span className="tile-sync">
          Stateful sync {report.statefulSync.enabled ? 'on' : `off (${report.statefulSync.reason ?? '—'})`}
        </span>
      </a>
      {report.gaps.length > 0 && (
        <ul className="badges" aria-label="Gaps">
          {report.gaps.map((gap, i) => (
            <li key={`${gap.code}-${gap.sku ?? ''}-${i}`} className={`badge badge-${gap.severity}`} title={gap.detail}>
              {gap.code}
              {gap.sku ? ` ${gap.sku}` : ''}
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}
