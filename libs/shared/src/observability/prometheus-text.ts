/**
 * Reading a service's Prometheus /metrics text, for the tools that watch the services from outside (the chaos run,
 * the benchmark). Framework-free, so it is part of `#shared/tools`.
 */

/** Samples of one scrape: `name{label="v",...}` → value (labels sorted, the `service` label left out). */
export type Samples = Map<string, number>;

/** Parses the Prometheus text format (counters and gauges; comments skipped). */
export function parsePrometheus(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const [, name, labelText, value] = match;
    const labels = [...(labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .filter(([, key]) => key !== 'service')
      .map(([, key, v]) => `${key}="${v}"`)
      .sort();
    const number = Number(value);
    if (!Number.isNaN(number)) samples.set(labels.length > 0 ? `${name}{${labels.join(',')}}` : name!, number);
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include all of `labels` (e.g. `outcome="duplicate"`); null if none. */
export function sumOf(samples: Samples, name: string, labels: readonly string[] = []): number | null {
  let total: number | null = null;
  for (const [key, value] of samples) {
    const bare = key.split('{')[0];
    if (bare !== name) continue;
    if (labels.some((l) => !key.includes(l))) continue;
    total = (total ?? 0) + value;
  }
  return total;
}
