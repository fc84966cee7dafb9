import { useEffect, useId, useMemo, useState, type KeyboardEvent } from 'react';
import { ApiError, query, type Client } from '../api';
import { formatInstant } from '../format';
import { usePolled } from '../hooks';
import { pairingChanges } from '../pair-events';
import { STATUS_LABEL, readinessStatus } from '../readiness';
import { buildTimeline, changeInstants, type UnitLicenses } from '../timeline';
import type {
  EffectiveSet,
  License,
  LicenseHistoryEntry,
  Pair,
  PairHistoryEntry,
  ProductHistoryEntry,
  ReadinessReport,
} from '../types';
import { ErrorNote } from './ErrorNote';
import { Timeline } from './Timeline';

export const PAIR_REFRESH_MS = 4_000;

/**
 * One pair: readiness and gaps, both units' effective sets with where each license comes from, stateful sync, and a
 * timeline of both units' licenses with an "as of" slider that re-reads both sets at the chosen instant.
 */
export function PairPage({
  client,
  pairId,
  refreshMs = PAIR_REFRESH_MS,
}: {
  client: Client;
  pairId: string;
  refreshMs?: number;
}) {
  const pair = usePolled(() => client.get<Pair>('pairing', `/pairs/${pairId}`), [client, pairId], refreshMs * 3);
  const readiness = usePolled(
    () => client.get<ReadinessReport>('sync-agent', `/pairs/${pairId}/failover-readiness`),
    [client, pairId],
    refreshMs,
  );
  const [asOf, setAsOf] = useState<number | null>(null);
  const debouncedAsOf = useDebounced(asOf, 250);
  const serials = pair.value ? [pair.value.primarySerial, pair.value.secondarySerial] : null;
  const sets = usePolled(
    async () =>
      serials === null
        ? null
        : Promise.all(
            serials.map((serial) =>
              client
                .get<EffectiveSet>(
                  'sync-agent',
                  `/products/${serial}/effective-licenses${query({ at: debouncedAsOf === null ? undefined : new Date(debouncedAsOf).toISOString() })}`,
                )
                .catch((error: unknown) => {
                  if (error instanceof ApiError && error.code === 'PRODUCT_NOT_FOUND') return null;
                  throw error;
                }),
            ),
          ),
    [client, serials?.join(), debouncedAsOf],
    debouncedAsOf === null ? refreshMs : null,
  );
  const history = usePolled(
    async (): Promise<UnitLicenses[] | null> => {
      if (pair.value === undefined) return null;
      const units = [
        { unit: 'primary' as const, serial: pair.value.primarySerial },
        { unit: 'secondary' as const, serial: pair.value.secondarySerial },
      ];
      return Promise.all(
        units.map(async ({ unit, serial }) => {
          const { licenses } = await client.get<{ licenses: License[] }>('licensing', `/products/${serial}/licenses`);
          const histories = new Map(
            await Promise.all(
              licenses.map(
                async (l) =>
                  [
                    l.licenseId,
                    (await client.get<{ events: LicenseHistoryEntry[] }>('licensing', `/licenses/${l.licenseId}/history`)).events,
                  ] as const,
              ),
            ),
          );
          return { unit, serial, licenses, histories };
        }),
      );
    },
    [client, pair.value?.primarySerial, pair.value?.secondarySerial],
    refreshMs * 2,
  );

  // Who associated and dissociated the pair and registered or upgraded its units (pairing's histories).
  const changes = usePolled(
    async () => {
      if (pair.value === undefined) return null;
      const { primarySerial, secondarySerial } = pair.value;
      const [pairHistory, primary, secondary] = await Promise.all([
        client.get<{ events: PairHistoryEntry[] }>('pairing', `/pairs/${pairId}/history`),
        ...[primarySerial, secondarySerial].map((serial) =>
          client.get<{ events: ProductHistoryEntry[] }>('pairing', `/products/${serial}/history`),
        ),
      ]);
      return pairingChanges(pairHistory.events, [
        { unit: 'primary', serial: primarySerial, events: primary?.events ?? [] },
        { unit: 'secondary', serial: secondarySerial, events: secondary?.events ?? [] },
      ]);
    },
    [client, pairId, pair.value?.primarySerial, pair.value?.secondarySerial, pair.value?.status],
    refreshMs * 3,
  );

  const now = Date.now();
  const associatedAt = pair.value ? Date.parse(pair.value.associatedAt) : now;
  const timeline = useMemo(
    () => (history.value ? buildTimeline(history.value, now, associatedAt) : null),
    // Rebuilt when the data changes; `now` moves on with each refresh.
    [history.value, associatedAt, history.refreshedAt],
  );
  const pairEvents = changes.value ?? [];

  if (pair.error instanceof ApiError && pair.error.status === 404)
    return (
      <section>
        <h1>Pair not found</h1>
        <p>There is no pair {pairId} that this key may see.</p>
        <p>
          <a href="#/fleet">Back to the fleet</a>
        </p>
      </section>
    );

  return (
    <section aria-labelledby="pair-title">
      <p>
        <a href="#/fleet">← Fleet readiness</a>
      </p>
      <h1 id="pair-title">Pair {pair.value ? `${pair.value.primarySerial} ⇄ ${pair.value.secondarySerial}` : pairId}</h1>
      <ErrorNote error={pair.error} what="the pair" />
      {pair.value && (
        <p className="muted">
          {pair.value.model} · account {pair.value.accountId} · associated {formatInstant(pair.value.associatedAt)}
          {pair.value.dissociatedAt ? `, dissociated ${formatInstant(pair.value.dissociatedAt)}` : ''} · pair id{' '}
          {pair.value.pairId}
        </p>
      )}
      <ReadinessPanel report={readiness.value} error={readiness.error} />

      {timeline && (
        <AsOfControl
          min={timeline.start}
          max={now}
          value={asOf}
          stops={changeInstants(timeline, [
            associatedAt,
            ...(pair.value?.dissociatedAt ? [Date.parse(pair.value.dissociatedAt)] : []),
          ])}
          onChange={setAsOf}
        />
      )}
      <ErrorNote error={sets.error} what="the effective sets" />
      <div className="units">
        {serials?.map((serial, i) => (
          <UnitPanel
            key={serial}
            heading={i === 0 ? 'Primary' : 'Secondary'}
            serial={serial}
            set={sets.value?.[i]}
            asOf={debouncedAsOf}
            stale={asOf !== debouncedAsOf}
          />
        ))}
      </div>

      <h2>License timeline</h2>
      <ErrorNote error={history.error} what="the licenses of the units" />
      <ErrorNote error={changes.error} what="the history of the pair and its units" />
      {timeline ? (
        <Timeline
          timeline={timeline}
          now={now}
          asOf={asOf}
          pairEvents={pairEvents}
          onPick={(at) => setAsOf(Math.max(at, timeline.start))}
        />
      ) : (
        <p>Loading…</p>
      )}
    </section>
  );
}

function ReadinessPanel({ report, error }: { report: ReadinessReport | undefined; error: Error | undefined }) {
  if (error) return <ErrorNote error={error} what="the readiness of the pair" />;
  if (!report) return <p>Loading readiness…</p>;
  const status = readinessStatus(report);
  return (
    <section className={`readiness readiness-${status}`} aria-labelledby="readiness-title" data-status={status}>
      <h2 id="readiness-title">
        Failover readiness now: <span className="status-word">{STATUS_LABEL[status]}</span>
      </h2>
      <p>
        Stateful sync {report.statefulSync.enabled ? 'on' : `off (${report.statefulSync.reason ?? '—'})`} · checked{' '}
        {formatInstant(report.checkedAt, true)}
      </p>
      {report.gaps.length > 0 && (
        <ul className="gaps">
          {report.gaps.map((gap, i) => (
            <li key={`${gap.code}-${i}`}>
              <span className={`badge badge-${gap.severity}`}>
                {gap.code}
                {gap.sku ? ` ${gap.sku}` : ''}
              </span>{' '}
              {gap.detail}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

interface AsOfProps {
  readonly min: number;
  readonly max: number;
  readonly value: number | null;
  /** Instants of changes: the previous/next buttons stop there. */
  readonly stops: readonly number[];
  readonly onChange: (value: number | null) => void;
}

/** The "as of" slider: now at its right end; arrows move a second, Page Up/Down a twentieth, buttons from change to change. */
function AsOfControl({ min, max, value, stops, onChange }: AsOfProps) {
  const id = useId();
  const current = value ?? max;
  const set = (next: number) => onChange(next >= max - 1_000 ? null : Math.max(min, Math.round(next)));
  const jump = Math.max((max - min) / 20, 1_000);
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key !== 'PageUp' && event.key !== 'PageDown') return;
    event.preventDefault();
    set(current + (event.key === 'PageUp' ? jump : -jump));
  };
  const previous = [...stops].reverse().find((t) => t < current - 1_000);
  const next = stops.find((t) => t > current + 1_000);
  return (
    <div className="as-of">
      <label htmlFor={id}>As of</label>
      <input
        id={id}
        type="range"
        min={min}
        max={max}
        step={1_000}
        value={current}
        onChange={(e) => set(Number(e.target.value))}
        onKeyDown={onKeyDown}
        aria-valuetext={value === null ? 'now' : formatInstant(current, true)}
      />
      <output htmlFor={id} aria-live="polite">
        {value === null ? 'Now' : formatInstant(current, true)}
      </output>
      <button type="button" disabled={previous === undefined} onClick={() => previous !== undefined && set(previous)}>
        Previous change
      </button>
      <button type="button" disabled={next === undefined} onClick={() => next !== undefined && set(next)}>
        Next change
      </button>
      <button type="button" disabled={value === null} onClick={() => onChange(null)}>
        Now
      </button>
    </div>
  );
}

interface UnitProps {
  readonly heading: string;
  readonly serial: string;
  /** undefined: loading; null: the agent did not know the unit at that instant. */
  readonly set: EffectiveSet | null | undefined;
  readonly asOf: number | null;
  readonly stale: boolean;
}

function UnitPanel({ heading, serial, set, asOf, stale }: UnitProps) {
  const titleId = useId();
  return (
    <section className="unit" aria-labelledby={titleId} aria-busy={stale || set === undefined} data-serial={serial}>
      <h3 id={titleId}>
        {heading} {serial}
        <span className="muted"> · {asOf === null ? 'now' : `as of ${formatInstant(asOf, true)}`}</span>
      </h3>
      {set === undefined && <p>Loading…</p>}
      {set === null && <p>The sync agent did not know this unit {asOf === null ? 'yet' : 'then'}.</p>}
      {set && (
        <>
          <p>
            Role <strong>{set.role}</strong>
            {set.peerSerial ? ` with ${set.peerSerial}` : ''} · stateful sync{' '}
            {set.statefulSync.enabled ? 'on' : `off (${set.statefulSync.reason ?? '—'})`}
          </p>
          {set.licenses.length === 0 ? (
            <p>No license in effect.</p>
          ) : (
            <table className="licenses">
              <caption className="visually-hidden">Effective licenses of {serial}</caption>
              <thead>
                <tr>
                  <th scope="col">SKU</th>
                  <th scope="col">Expires</th>
                  <th scope="col">From</th>
                </tr>
              </thead>
              <tbody>
                {set.licenses.map((l) => (
                  <tr key={l.sku} data-sku={l.sku}>
                    <th scope="row">
                      {l.sku}
                      {l.trial && <span className="tag">trial</span>}
                      {l.expiringSoon && <span className="tag tag-warning">expiring soon</span>}
                    </th>
                    <td>{formatInstant(l.expiresAt)}</td>
                    <td>
                      <ul className="sources">
                        {l.sources.map((s) => (
                          <li key={s.licenseId} title={`license ${s.licenseId}; events ${s.eventIds.join(', ')}`}>
                            {s.from === 'own' ? 'own license' : `shared from Primary ${s.serial}`}
                          </li>
                        ))}
                      </ul>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}
