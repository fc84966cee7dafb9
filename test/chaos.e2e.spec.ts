/**
 * The short chaos run (about a minute of load under the nemesis; `npm run chaos` is the long one): its own
 * PostgreSQL and nats-server, the three services as processes, every fault kind early in the plan, bus
 * injections, then reconciliation against the harness's independent oracle.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chaosOptions, formatReport, runChaos, type ChaosReport } from '../scripts/chaos/harness.js';

const SECONDS = Number(process.env.CHAOS_TEST_SECONDS ?? 60);

describe('chaos, short run', () => {
  let report: ChaosReport;

  beforeAll(async () => {
    report = await runChaos(chaosOptions(SECONDS, { log: (line) => process.stderr.write(`[chaos] ${line}\n`) }));
  }, 20 * 60_000);

  afterAll(() => {
    if (report && report.failures.length > 0) process.stderr.write(`${formatReport(report)}\n`);
  });

  it('reflects every acknowledged write in the effective sets: nothing missing, nothing extra', () => {
    expect(report.productsChecked).toBeGreaterThan(10);
    expect(report.totals.ok).toBeGreaterThan(100);
    expect(report.missing).toEqual([]);
    expect(report.extra).toEqual([]);
  });

  it('keeps exactly the acknowledged writes in the owning services, and every stored event on its stream', () => {
    expect(report.storeMismatches).toEqual([]);
    expect(report.notOnStream).toEqual([]);
  });

  it('answers every request with a result or a problem+json error, 503 while a dependency is down, and never hangs', () => {
    expect({ hung: report.hung, nonProblem: report.nonProblemErrors, non503: report.non503ServerErrors }).toEqual({
      hung: 0,
      nonProblem: 0,
      non503: 0,
    });
    const natsDown = report.faults.find((f) => f.label.startsWith('NATS down'));
    expect(natsDown?.whileDown?.problem503).toBeGreaterThan(0);
  });

  it('recovers from kill -9, SIGTERM (a clean exit), NATS down and a PostgreSQL crash', () => {
    const labels = report.faults.map((f) => f.label);
    expect(labels.some((l) => l.startsWith('kill -9'))).toBe(true);
    expect(labels.some((l) => l.startsWith('SIGTERM'))).toBe(true);
    expect(labels.some((l) => l.startsWith('NATS down'))).toBe(true);
    expect(labels.some((l) => l.startsWith('PostgreSQL'))).toBe(true);
    expect(report.faults.filter((f) => f.error !== null || f.convergeMs === null)).toEqual([]);
  });

  it('dead-letters copies as REPLAYED, stale copies as STALE_VERSION and poison, without blocking the stream', () => {
    expect(report.injected.duplicates + report.injected.staleCopies + report.injected.poison).toBeGreaterThan(0);
    expect(report.finalRound.duplicates).toMatch(/^5 counted as dead-lettered REPLAYED/);
    expect(report.finalRound.stale).toMatch(/^5 counted as dead-lettered STALE_VERSION/);
    expect(report.finalRound.poison).toMatch(/^3 counted as dead-lettered poison/);
  });

  it('passes every check of the report', () => {
    expect(report.failures).toEqual([]);
  });
});
