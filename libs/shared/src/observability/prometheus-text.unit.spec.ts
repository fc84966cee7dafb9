import { describe, expect, it } from '@jest/globals';
import { parsePrometheus, sumOf } from './prometheus-text.js';

const TEXT = `# HELP ha_license_sync_consumer_events_total Events a consumer handled, by outcome
# TYPE ha_license_sync_consumer_events_total counter
ha_license_sync_consumer_events_total{outcome="applied",service="sync-agent"} 120
ha_license_sync_consumer_events_total{outcome="duplicate",service="sync-agent"} 7
ha_license_sync_consumer_events_total{service="sync-agent",outcome="stale"} 3
ha_license_sync_outbox_events_published_total{service="sync-agent"} 99
process_cpu_seconds_total 1.5
`;

describe('reading /metrics', () => {
  const samples = parsePrometheus(TEXT);

  it('reads a counter by one of its labels, whatever the label order', () => {
    expect(sumOf(samples, 'ha_license_sync_consumer_events_total', ['outcome="duplicate"'])).toBe(7);
    expect(sumOf(samples, 'ha_license_sync_consumer_events_total', ['outcome="stale"'])).toBe(3);
  });

  it('sums every sample of a counter without a label filter', () => {
    expect(sumOf(samples, 'ha_license_sync_consumer_events_total')).toBe(130);
    expect(sumOf(samples, 'ha_license_sync_outbox_events_published_total')).toBe(99);
  });

  it('says null for a metric the service does not expose', () => {
    expect(sumOf(samples, 'ha_license_sync_dead_lettered_total')).toBeNull();
  });
});
