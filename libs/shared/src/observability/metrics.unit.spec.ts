import { describe, expect, it } from '@jest/globals';
import { Registry, collectDefaultMetrics } from 'prom-client';
import {
  BATCH_DURATION_BUCKETS,
  BATCH_SIZE_BUCKETS,
  HTTP_DURATION_BUCKETS,
  METRIC_PREFIX,
  PROPAGATION_BUCKETS,
  ServiceMetrics,
} from './metrics.js';
import { CONSUMER_DEFAULTS } from '../messaging/durable-consumer.js';
import { abuseMetrics } from '../http/abuse-metrics.js';

/** The names prom-client's default metrics have on this machine (process_*, nodejs_*). */
async function defaultMetricNames(): Promise<Set<string>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
}

describe('ServiceMetrics', () => {
  it('prefixes every application metric with ha_license_sync_ and leaves the default process metrics as they are', async () => {
    const defaults = await defaultMetricNames();
    const { registry } = new ServiceMetrics('pairing');
    abuseMetrics(registry); // registered on the same registry when the HTTP layer starts
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);

    const unprefixed = names.filter((name) => !name.startsWith(METRIC_PREFIX) && !defaults.has(name));
    expect(unprefixed).toEqual([]);
    expect(names).toEqual(expect.arrayContaining([...defaults]));
    expect(names.filter((name) => name.startsWith(METRIC_PREFIX)).length).toBeGreaterThan(10);
  });

  it('labels every series with the service', async () => {
    const metrics = new ServiceMetrics('licensing');
    metrics.ready.set(1);
    expect(await metrics.registry.metrics()).toMatch(/^ha_license_sync_service_ready\{service="licensing"\} 1$/m);
  });

  it('reads the consumer-pending gauge at scrape time, and leaves it out when JetStream does not answer', async () => {
    const metrics = new ServiceMetrics('sync-agent');
    let answer: () => Promise<{ stream: string; durable: string; pending: number }[]> = () =>
      Promise.resolve([{ stream: 'PAIRING', durable: 'sync-agent', pending: 7 }]);
    metrics.readPendingFrom(() => answer());

    expect(await metrics.registry.metrics()).toMatch(
      /^ha_license_sync_consumer_pending_messages\{stream="PAIRING",durable="sync-agent",service="sync-agent"\} 7$/m,
    );

    answer = () => Promise.reject(new Error('NATS is not connected'));
    expect(await metrics.registry.metrics()).not.toMatch(/^ha_license_sync_consumer_pending_messages\{/m);
  });
});

describe('histogram buckets', () => {
  it.each([
    ['HTTP request duration', HTTP_DURATION_BUCKETS],
    ['consumer batch duration', BATCH_DURATION_BUCKETS],
    ['consumer batch size', BATCH_SIZE_BUCKETS],
    ['propagation', PROPAGATION_BUCKETS],
  ])('%s buckets are positive and strictly increasing', (_name, buckets) => {
    expect(buckets[0]).toBeGreaterThan(0);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThan(buckets[i - 1]!);
  });

  it('has a batch-size bucket at the consumer batch limit, so a full batch is told from a nearly full one', () => {
    expect(BATCH_SIZE_BUCKETS.at(-1)).toBe(CONSUMER_DEFAULTS.batchSize);
  });

  it('tells HTTP requests that waited out the 2 s request/reply deadline from those that did not', () => {
    expect(HTTP_DURATION_BUCKETS).toContain(2.5);
    expect(HTTP_DURATION_BUCKETS.filter((b) => b > 2).length).toBeGreaterThanOrEqual(2);
  });
});
