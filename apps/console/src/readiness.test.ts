import { describe, expect, it } from 'vitest';
import { groupByAccount, readinessStatus } from './readiness';
import type { Gap, ReadinessReport } from './types';

const gap = (severity: Gap['severity']): Gap => ({
  code: severity === 'warning' ? 'EXPIRING_SOON' : 'MISSING_LICENSE',
  severity,
  detail: '',
});

describe('readinessStatus', () => {
  it.each([
    [false, [gap('blocking')], 'not-ready'],
    [false, [gap('blocking'), gap('warning')], 'not-ready'],
    [true, [gap('warning')], 'warning'],
    [true, [], 'ready'],
  ] as const)('ready=%s with %j is %s', (ready, gaps, status) => {
    expect(readinessStatus({ ready, gaps })).toBe(status);
  });
});

describe('groupByAccount', () => {
  it('groups pairs by account, accounts in name order, pairs as listed', () => {
    const report = (pairId: string, accountId: string | null) => ({ pairId, accountId }) as ReadinessReport;
    const groups = groupByAccount([report('1', 'zeta'), report('2', 'acme'), report('3', 'zeta'), report('4', null)]);
    expect(groups.map(([account, pairs]) => [account, pairs.map((p) => p.pairId)])).toEqual([
      ['(unknown account)', ['4']],
      ['acme', ['2']],
      ['zeta', ['1', '3']],
    ]);
  });
});
