/**
 * The report's verdicts: figures of the running system taken while services ran under `node --cpu-prof` are shown
 * but not judged, since the profiler's sampling adds CPU of its own.
 */
import { describe, expect, it } from '@jest/globals';
import { buildResults, type Measurements, type Meta } from './report.js';

const meta: Meta = {
  scale: 'small',
  date: '2026-12-07T17:00:00.000Z',
  nodeVersion: 'v24.22.3',
  cores: 2,
  cpuModel: 'test',
  memoryGb: 24,
  loadAverage: { before: [0, 0, 0], max1m: 0, after: [0, 0, 0] },
  commit: 'test',
  durationSeconds: 1,
};

const idleAt = (cpuPercent: number): Measurements => ({
  idle: { seconds: 30, cpuPercent, cpuMsByProcess: { licensing: 10 } },
});

function idleTarget(m: Measurements) {
  const { targets } = buildResults(meta, m, {}) as { targets: { name: string; actual: string; met: boolean | null }[] };
  return targets.find((t) => t.name.startsWith('idle'));
}

describe('bench report targets', () => {
  it.each([
    { given: 'an idle system over its target', profiled: false, met: false, actual: '16.5 %' },
    { given: 'the same figure taken under the profiler', profiled: true, met: null, actual: '16.5 % (under --cpu-prof)' },
    { given: 'an idle system within its target', profiled: false, met: true, actual: '1.2 %' },
  ])('judges $given: met $met', ({ profiled, met, actual }) => {
    const cpuPercent = Number.parseFloat(actual);
    const m: Measurements = {
      ...idleAt(cpuPercent),
      ...(profiled ? { serviceProfiles: { licensing: {} as never } } : {}),
    };
    expect(idleTarget(m)).toEqual(expect.objectContaining({ met, actual }));
  });
});
