import { Counter, type Registry } from 'prom-client';
import { metricName } from '../observability/metrics.js';

/** The counters that show abuse being bounded, on GET /metrics. */
export interface AbuseMetrics {
  /** Requests answered 429 before their key was looked up: the address had spent its failed-authentication budget. */
  readonly authThrottled: Counter;
  /** Keys looked up in pairing's api_keys table (a transaction each), by answer: `known` or `unknown`. */
  readonly apiKeyLookups: Counter<'answer'>;
}

/** The service's abuse counters, registered once per registry (a second call answers the same ones). */
export function abuseMetrics(registry: Registry): AbuseMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    authThrottled: counter(
      metricName('auth_throttled_total'),
      'Requests answered 429 before their API key was looked up, because their client address had presented FAILED_AUTH_PER_MINUTE refused keys',
    ),
    apiKeyLookups: counter(
      metricName('api_key_lookups_total'),
      "API keys looked up in pairing's api_keys table (one transaction each), by answer: known or unknown",
      ['answer'],
    ),
  };
}
