import type { ReadinessReport } from './types';

/** What a pair's tile shows: red when not ready, amber when ready with warnings, green otherwise. */
export type ReadinessStatus = 'not-ready' | 'warning' | 'ready';

export function readinessStatus(report: Pick<ReadinessReport, 'ready' | 'gaps'>): ReadinessStatus {
  if (!report.ready) return 'not-ready';
  return report.gaps.some((g) => g.severity === 'warning') ? 'warning' : 'ready';
}

/** The words beside the colour, so that the status never depends on colour alone. */
export const STATUS_LABEL: Readonly<Record<ReadinessStatus, string>> = {
  'not-ready': 'Not ready',
  warning: 'Ready, with warnings',
  ready: 'Ready',
};

/** Pairs grouped by account (accounts in name order, pairs as listed). */
export function groupByAccount(reports: readonly ReadinessReport[]): [string, ReadinessReport[]][] {
  const groups = new Map<string, ReadinessReport[]>();
  for (const report of reports) {
    const account = report.accountId ?? '(unknown account)';
    groups.set(account, [...(groups.get(account) ?? []), report]);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}
