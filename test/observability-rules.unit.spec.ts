/**
 * The dashboard and the alert rules, read as files: every expression reads metrics of this system (or Prometheus'
 * own `up`), every rule says how bad and what to do, and every latency threshold sits on a bucket boundary. That
 * each metric exists on the running services' /metrics is test/observability.e2e.spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { HTTP_DURATION_BUCKETS, METRIC_PREFIX, PROPAGATION_BUCKETS, BATCH_DURATION_BUCKETS } from '#shared';
import { alertRules, dashboardQueries, declaredMetrics, isExposed, metricNamesIn, quantileThresholds } from './support/promql.js';

/** Series Prometheus makes itself, and prom-client's default process metrics (kept unprefixed). */
const NOT_OURS = /^(up|process_[a-z0-9_]+|nodejs_[a-z0-9_]+)$/;

describe('reading PromQL', () => {
  it('finds the metrics of an expression, not its functions, labels, ranges, keywords or Grafana variables', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (service, le) (rate(a_bucket{route!~"/livez|x", service=~"$service"}[$__rate_interval])))' +
          ' / on (service) group_left sum without (le) (b_total offset 5m) > bool 1e3 and c',
      ),
    ).toEqual(['a_bucket', 'b_total', 'c']);
    expect(metricNamesIn('up{job="ha-license-sync"} == 0')).toEqual(['up']);
    expect(metricNamesIn('max by (service) (min_over_time(x[10m])) > 0 and max by (service) (delta(x[10m])) > 0')).toEqual(['x']);
  });

  it('takes a histogram’s _bucket, _sum and _count series for the histogram', () => {
    const declared = declaredMetrics('# TYPE h histogram\n# TYPE c counter\n# TYPE s summary\nc 1\n');
    expect(['h_bucket', 'h_sum', 'h_count', 'c', 's_sum', 's_count'].every((n) => isExposed(n, declared))).toBe(true);
    expect(['h', 'c_total', 'c_bucket', 's_bucket', 'missing'].some((n) => isExposed(n, declared))).toBe(false);
  });

  it('finds the histogram and the threshold of a quantile comparison', () => {
    expect(
      quantileThresholds('histogram_quantile(0.99, sum by (service, le) (rate(lat_seconds_bucket{a="b"}[5m]))) > 2.5'),
    ).toEqual([{ histogram: 'lat_seconds', threshold: 2.5 }]);
  });
});

describe('the dashboard', () => {
  const queries = dashboardQueries();

  it('has queries, each reading at least one metric of this system', () => {
    expect(queries.length).toBeGreaterThan(20);
    const withoutMetric = queries.filter(({ expr }) => metricNamesIn(expr).length === 0);
    expect(withoutMetric).toEqual([]);
    const foreign = queries.flatMap(({ panel, expr }) =>
      metricNamesIn(expr)
        .filter((name) => !name.startsWith(METRIC_PREFIX) && !NOT_OURS.test(name))
        .map((name) => `${panel}: ${name}`),
    );
    expect(foreign).toEqual([]);
  });

  it.each([
    ['request rate', 'ha_license_sync_http_request_duration_seconds_count'],
    ['latency', 'ha_license_sync_http_request_duration_seconds_bucket'],
    ['readiness', 'ha_license_sync_service_ready'],
    ['relay backlog', 'ha_license_sync_outbox_backlog_events'],
    ['relay published', 'ha_license_sync_outbox_events_published_total'],
    ['relay loss', 'ha_license_sync_outbox_stream_loss_detected_total'],
    ['consumer pending', 'ha_license_sync_consumer_pending_messages'],
    ['apply latency', 'ha_license_sync_consumer_batch_duration_seconds_bucket'],
    ['rejections', 'ha_license_sync_events_rejected_total'],
    ['dead letters', 'ha_license_sync_dead_lettered_total'],
    ['propagation', 'ha_license_sync_propagation_seconds_bucket'],
  ])('shows %s', (_what, metric) => {
    expect(queries.some(({ expr }) => metricNamesIn(expr).includes(metric))).toBe(true);
  });
});

describe('the alert rules', () => {
  const rules = alertRules();

  it('have unique names, a severity, a summary and a description, and read only this system’s metrics', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect(rule.annotations?.summary).toEqual(expect.any(String));
      expect(rule.annotations?.description).toEqual(expect.any(String));
      const foreign = metricNamesIn(rule.expr).filter((n) => !n.startsWith(METRIC_PREFIX) && !NOT_OURS.test(n));
      expect({ alert: rule.alert, foreign }).toEqual({ alert: rule.alert, foreign: [] });
    }
  });

  it.each([
    ['service not ready', 'ha_license_sync_service_ready'],
    ['relay failing', 'ha_license_sync_outbox_relay_failures_total'],
    ['backlog growing', 'ha_license_sync_outbox_backlog_events'],
    ['stream loss', 'ha_license_sync_outbox_stream_loss_detected_total'],
    ['consumer pending growing', 'ha_license_sync_consumer_pending_messages'],
    ['dead letters', 'ha_license_sync_dead_lettered_total'],
    ['forged replies', 'ha_license_sync_rpc_forged_replies_total'],
    ['high 5xx rate', 'ha_license_sync_http_request_duration_seconds_count'],
    ['high latency', 'ha_license_sync_http_request_duration_seconds_bucket'],
  ])('cover %s', (_what, metric) => {
    expect(rules.some((rule) => metricNamesIn(rule.expr).includes(metric))).toBe(true);
  });

  it('put every latency threshold on a bucket boundary, where histogram_quantile is exact', () => {
    const buckets: Record<string, readonly number[]> = {
      ha_license_sync_http_request_duration_seconds: HTTP_DURATION_BUCKETS,
      ha_license_sync_propagation_seconds: PROPAGATION_BUCKETS,
      ha_license_sync_consumer_batch_duration_seconds: BATCH_DURATION_BUCKETS,
    };
    const thresholds = rules.flatMap((rule) => quantileThresholds(rule.expr).map((t) => ({ alert: rule.alert, ...t })));
    expect(thresholds.length).toBeGreaterThanOrEqual(2);
    for (const { alert, histogram, threshold } of thresholds)
      expect({ alert, histogram, onBoundary: buckets[histogram]?.includes(threshold) }).toEqual({
        alert,
        histogram,
        onBoundary: true,
      });
  });
});
