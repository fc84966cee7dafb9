/**
 * Reads the services' Prometheus /metrics through the run. Counters restart at zero with each process, so
 * they are kept per process (pid) and summed: a total is the last value each process was seen with. What a
 * process counted after its last scrape and before a kill -9 is lost, so totals are lower bounds.
 * A metric a service does not expose (yet) reads as null, and the report says so instead of failing.
 */
import type { HttpOptions } from './http.js';
import { request } from './http.js';
import { parsePrometheus, sumOf, type Samples, type ServiceName } from '#shared/tools';

export class MetricsWatcher {
  /** service → pid → that process's last samples. */
  private readonly last = new Map<ServiceName, Map<number, Samples>>();
  private timer: NodeJS.Timeout | undefined;
  private scraping: Promise<void> | undefined;

  constructor(
    private readonly http: HttpOptions,
    private readonly target: () => readonly { service: ServiceName; url: string; pid: number | undefined }[],
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.scraping ??= this.scrape().finally(() => (this.scraping = undefined));
    }, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.scraping;
  }

  /** Scrapes every running service once now. */
  async scrape(): Promise<void> {
    await Promise.all(
      this.target().map(async ({ service, url, pid }) => {
        if (pid === undefined) return;
        const reply = await request(this.http, url, 'GET', '/metrics');
        if (reply.outcome !== 'ok' || typeof reply.body !== 'string') return;
        const perPid = this.last.get(service) ?? new Map<number, Samples>();
        perPid.set(pid, parsePrometheus(reply.body));
        this.last.set(service, perPid);
      }),
    );
  }

  /** The run's total of a counter over every process of `service`; null when no process exposed it. */
  total(service: ServiceName, name: string, labels: readonly string[] = []): number | null {
    let total: number | null = null;
    for (const samples of this.last.get(service)?.values() ?? []) {
      const value = sumOf(samples, name, labels);
      if (value !== null) total = (total ?? 0) + value;
    }
    return total;
  }

  /** The current process's value of a counter; null when it does not expose it. */
  current(service: ServiceName, pid: number | undefined, name: string, labels: readonly string[] = []): number | null {
    if (pid === undefined) return null;
    const samples = this.last.get(service)?.get(pid);
    return samples ? sumOf(samples, name, labels) : null;
  }
}
