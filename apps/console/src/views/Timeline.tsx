import { actorLabel, formatDate, formatInstant } from '../format';
import type { PairingChange } from '../pair-events';
import { CHANGE_LABEL, DAY_MS, type Marker, type Timeline as TimelineData } from '../timeline';
import type { LicenseChange } from '../types';

const LABEL_WIDTH = 210;
const WIDTH = 1000;
const ROW_HEIGHT = 26;
const AXIS_HEIGHT = 28;

interface Props {
  readonly timeline: TimelineData;
  readonly now: number;
  /** The instant the sets are shown at (null: now), drawn as a line. */
  readonly asOf: number | null;
  /** The pairing changes: the pair's (association, dissociation) drawn as vertical lines, all of them listed. */
  readonly pairEvents: readonly PairingChange[];
  readonly onPick: (at: number) => void;
}

/** The licenses of both units over time: a bar per license, a marker per change, the pair's events and the "as of" line. */
export function Timeline({ timeline, now, asOf, pairEvents, onPick }: Props) {
  const { start, end, rows, markers } = timeline;
  const span = Math.max(end - start, 1);
  const x = (t: number) => LABEL_WIDTH + ((Math.min(Math.max(t, start), end) - start) / span) * (WIDTH - LABEL_WIDTH - 10);
  const rowIndex = new Map(rows.map((r, i) => [r.key, i]));
  const height = AXIS_HEIGHT + Math.max(rows.length, 1) * ROW_HEIGHT + 8;
  const ticks = Array.from({ length: 5 }, (_, i) => start + (span * i) / 4);

  return (
    <figure className="timeline">
      <svg
        className="timeline-chart"
        viewBox={`0 0 ${WIDTH} ${height}`}
        role="img"
        aria-labelledby="timeline-title timeline-desc"
        preserveAspectRatio="xMinYMin meet"
      >
        <title id="timeline-title">Licenses of both units over time</title>
        <desc id="timeline-desc">
          One row per unit and SKU; bars are licenses, marks are their changes. The table below lists every change.
        </desc>
        {ticks.map((t, i) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={AXIS_HEIGHT - 6} y2={height} className="grid-line" />
            <text x={x(t)} y={14} className="axis" textAnchor={i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle'}>
              {tickLabel(t, span)}
            </text>
          </g>
        ))}
        <line x1={x(now)} x2={x(now)} y1={AXIS_HEIGHT - 8} y2={height} className="now-line" />
        <text x={x(now)} y={AXIS_HEIGHT - 2} className="axis now-label" textAnchor="middle">
          now
        </text>
        {pairEvents
          .filter((e) => e.line)
          .map((e) => (
            <g key={e.key}>
              <line x1={x(e.at)} x2={x(e.at)} y1={AXIS_HEIGHT} y2={height} className="pair-line">
                <title>{`${e.label} ${formatInstant(e.at, true)}, by ${actorLabel(e.actor)}`}</title>
              </line>
            </g>
          ))}
        {rows.map((row, i) => {
          const y = AXIS_HEIGHT + i * ROW_HEIGHT;
          return (
            <g key={row.key}>
              <text x={6} y={y + 17} className="row-label">
                {row.unit === 'primary' ? 'Primary' : 'Secondary'} · {row.sku}
              </text>
              {row.bars.map((bar) => (
                <rect
                  key={bar.licenseId}
                  x={x(bar.start)}
                  y={y + 6}
                  width={Math.max(x(bar.end) - x(bar.start), 2)}
                  height={ROW_HEIGHT - 12}
                  rx={3}
                  className={`bar bar-${bar.status}${bar.trial ? ' bar-trial' : ''}${bar.open ? ' bar-open' : ''}`}
                >
                  <title>{`${row.sku} on ${row.serial}: ${bar.status}${bar.trial ? ' (trial)' : ''}`}</title>
                </rect>
              ))}
            </g>
          );
        })}
        {markers.map((m) => (
          <MarkerShape
            key={m.key}
            marker={m}
            cx={x(m.at)}
            cy={AXIS_HEIGHT + (rowIndex.get(m.rowKey) ?? 0) * ROW_HEIGHT + ROW_HEIGHT / 2}
          />
        ))}
        {asOf !== null && (
          <g>
            <line x1={x(asOf)} x2={x(asOf)} y1={AXIS_HEIGHT - 8} y2={height} className="as-of-line" />
            <text x={x(asOf)} y={height - 2} className="axis as-of-label" textAnchor="middle">
              as of
            </text>
          </g>
        )}
      </svg>
      <figcaption>
        <ul className="legend" aria-label="Legend">
          {(Object.keys(CHANGE_LABEL) as LicenseChange[]).map((kind) => (
            <li key={kind}>
              <svg width="14" height="14" viewBox="-7 -7 14 14" aria-hidden="true">
                <Shape kind={kind} />
              </svg>{' '}
              {CHANGE_LABEL[kind]}
            </li>
          ))}
          <li>
            <span className="swatch swatch-pair" aria-hidden="true" /> association / dissociation
          </li>
          <li>
            <span className="box bar-active" aria-hidden="true" /> license, active
          </li>
          <li>
            <span className="box bar-revoked" aria-hidden="true" /> revoked (bar ends at the revocation)
          </li>
          <li>
            <span className="box bar-expired" aria-hidden="true" /> expired
          </li>
        </ul>
      </figcaption>
      <table className="events">
        <caption>Every change, oldest first (pick one to see the sets as of that moment)</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Unit</th>
            <th scope="col">SKU</th>
            <th scope="col">Change</th>
            <th scope="col">By</th>
            <th scope="col">
              <span className="visually-hidden">As of</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {[
            ...markers.map((m) => ({
              key: m.key,
              at: m.at,
              unit: `${m.unit} ${m.serial}`,
              sku: m.sku,
              change: m.kind,
              by: actorLabel(m.actor),
            })),
            ...pairEvents.map((e) => ({
              key: e.key,
              at: e.at,
              unit: e.unit,
              sku: '—',
              change: e.label,
              by: actorLabel(e.actor),
            })),
          ]
            .sort((a, b) => a.at - b.at)
            .map((row) => (
              <tr key={row.key}>
                <td>{formatInstant(row.at, true)}</td>
                <td>{row.unit}</td>
                <td>{row.sku}</td>
                <td>{row.change}</td>
                <td>{row.by}</td>
                <td>
                  <button type="button" className="link" onClick={() => onPick(row.at - 1_000)}>
                    Just before
                  </button>
                </td>
              </tr>
            ))}
        </tbody>
      </table>
    </figure>
  );
}

/** A tick's label: the date over long spans, the time of day (UTC) over short ones. */
function tickLabel(t: number, span: number): string {
  if (span >= 3 * DAY_MS) return formatDate(t);
  const iso = new Date(t).toISOString();
  return span >= 3 * 3_600_000 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 19);
}

function MarkerShape({ marker, cx, cy }: { marker: Marker; cx: number; cy: number }) {
  return (
    <g transform={`translate(${cx} ${cy})`} className={`marker marker-${marker.kind}`}>
      <Shape kind={marker.kind} />
      <title>{`${marker.sku} ${CHANGE_LABEL[marker.kind]} on ${marker.serial}, ${formatInstant(marker.at, true)}, by ${actorLabel(marker.actor)}`}</title>
    </g>
  );
}

/** One distinct shape per kind, so the marks differ by more than colour. */
function Shape({ kind }: { kind: LicenseChange }) {
  switch (kind) {
    case 'granted':
      return <circle r={5} className="shape shape-granted" />;
    case 'renewed':
      return <polygon points="0,-6 6,5 -6,5" className="shape shape-renewed" />;
    case 'revoked':
      return <path d="M-5,-5 L5,5 M5,-5 L-5,5" className="shape shape-revoked" />;
    case 'transferred':
      return <polygon points="0,-6 6,0 0,6 -6,0" className="shape shape-transferred" />;
    case 'expired':
      return <rect x={-5} y={-5} width={10} height={10} className="shape shape-expired" />;
  }
}
