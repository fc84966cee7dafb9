/**
 * The report's verdicts: figures of the running system taken while services ran under `node --cpu-prof` are shown
 * but not judged, since the profiler's sampling adds CPU of its own; figures of the phases before it are judged as
 * ever.
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

const idle = (cpuPercent: number): Measurements['idle'] => ({ seconds: 30, cpuPercent, cpuMsByProcess: { licensing: 10 } });
/** A consumer's run, with only what the verdicts read: its rate (and no RSS samples). */
const run = <K extends 'ours' | 'rawVerified'>(eventsPerSec: number) =>
  ({ eventsPerSec, rssAt: [] }) as unknown as NonNullable<Measurements[K]>;
/** A catch-up phase (not profiled: it runs before the services that BENCH_CPU_PROF profiles). */
const catchUp = (oursPerSec: number, rawVerifiedPerSec: number): Partial<Measurements> => ({
  ours: run<'ours'>(oursPerSec),
  rawVerified: run<'rawVerified'>(rawVerifiedPerSec),
});
const underProfiler: Partial<Measurements> = { serviceProfiles: { licensing: {} as never } };

function target(m: Measurements, name: string) {
  const { targets } = buildResults(meta, m, {}) as { targets: { name: string; actual: string; met: boolean | null }[] };
  return targets.find((t) => t.name.startsWith(name));
}

describe('bench report targets', () => {
  it.each([
    { given: 'an idle system over its target', m: { idle: idle(16.5) }, name: 'idle', met: false, actual: '16.5 %' },
    {
      given: 'the same idle figure taken under the profiler',
      m: { idle: idle(16.5), ...underProfiler },
      name: 'idle',
      met: null,
      actual: '16.5 % (under --cpu-prof)',
    },
    { given: 'an idle system within its target', m: { idle: idle(1.2) }, name: 'idle', met: true, actual: '1.2 %' },
    {
      given: 'a catch-up measured in its own phase, while the e2e phase ran under the profiler',
      m: { ...catchUp(3_000, 6_000), ...underProfiler },
      name: 'projection catch-up',
      met: false,
      actual: '50 %',
    },
  ])('judges $given: met $met', ({ m, name, met, actual }) => {
    expect(target(m, name)).toEqual(expect.objectContaining({ met, actual }));
  });
});
