/**
 * Just enough PromQL to check the dashboard and the alert rules against what the services expose: which metric
 * names an expression reads, and which names a /metrics page declares. Not a parser: it strips what cannot hold a
 * metric name (strings, label matchers, ranges, `by (…)` lists, Grafana variables) and keeps the identifiers that
 * are neither functions, keywords nor parts of numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
  'atan2',
]);

/** The metric names an expression reads, in order of appearance, each once. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\$\{?[A-Za-z_]\w*\}?/g, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const [word] = match;
    const before = stripped[match.index - 1] ?? '';
    const after = stripped.slice(match.index + word.length).trimStart();
    if (/[0-9.]/.test(before)) continue; // the exponent or unit of a number: 1e3, 5m
    if (after.startsWith('(')) continue; // a function or an aggregation
    if (KEYWORDS.has(word.toLowerCase())) continue;
    if (!names.includes(word)) names.push(word);
  }
  return names;
}

/** The metrics a Prometheus text page declares (`# TYPE name type`), by name. */
export function declaredMetrics(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/**
 * Whether `name` is a series of a declared metric: the metric itself (but for a histogram, which has only its
 * parts), or a histogram's `_bucket`, `_sum`, `_count` (a summary's `_sum`, `_count`).
 */
export function isExposed(name: string, declared: ReadonlyMap<string, string>): boolean {
  const own = declared.get(name);
  if (own !== undefined) return own !== 'histogram';
  const part = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (!part) return false;
  const type = declared.get(part[1]!);
  return type === 'histogram' || (type === 'summary' && part[2] !== 'bucket');
}

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');

/** A Grafana panel's query, as the dashboard holds it. */
export interface PanelQuery {
  readonly panel: string;
  readonly expr: string;
}

/** Every query of deploy/grafana/ha-license-sync.json, with its panel's title. */
export function dashboardQueries(): PanelQuery[] {
  const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'ha-license-sync.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map(({ expr }) => ({ panel: panel.title, expr })));
}

/** An alerting rule of deploy/prometheus/alerts.yml. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/** Every rule of deploy/prometheus/alerts.yml. */
export function alertRules(): AlertRule[] {
  const rules = parse(readFileSync(join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8')) as {
    groups: { name: string; rules: AlertRule[] }[];
  };
  return rules.groups.flatMap((group) => group.rules);
}

/** `histogram_quantile(q, … <name>_bucket …) > threshold` comparisons of an expression: the histogram and the threshold. */
export function quantileThresholds(expr: string): { histogram: string; threshold: number }[] {
  return [...expr.matchAll(/histogram_quantile\(([\s\S]*?)\)\s*>\s*([0-9.]+)/g)].flatMap((m) => {
    const histogram = /([A-Za-z_:][A-Za-z0-9_:]*)_bucket\b/.exec(m[1]!)?.[1];
    return histogram ? [{ histogram, threshold: Number(m[2]) }] : [];
  });
}
