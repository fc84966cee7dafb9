import { describe, expect, it } from '@jest/globals';
import { Random } from './load.js';
import { countFaults, describeFault, faultPlan, faultsPerRound, tailDetail, type Fault, type PlanSettings } from './nemesis.js';

const settings = (nodes: number, kinds?: Fault['kind'][]): PlanSettings => ({
  natsDownMs: [3_000, 5_000],
  postgresDownMs: [1_000, 2_000],
  powerLossTailMs: [3_000, 8_000],
  nodeDownMs: [4_000, 6_000],
  nodes,
  ...(kinds ? { kinds } : {}),
});
const labels = (faults: readonly Fault[]) => faults.map(describeFault).map((l) => l.replace(/\d+ s/g, 'N s'));
/** A fault without its random lengths and node: a power loss of the whole bus and of one node stay apart. */
const shape = (f: Fault) =>
  JSON.stringify({ ...f, downMs: undefined, tailMs: undefined, node: 'node' in f ? f.node === null || 'one' : undefined });

describe('the nemesis schedule', () => {
  describe.each([
    ['one nats-server', 1, 12, ['service', 'power-loss', 'nats', 'postgres']],
    ['a 3-node cluster', 3, 15, ['service', 'power-loss', 'nats', 'node', 'postgres']],
  ])('on %s', (_, nodes, perRound, kinds) => {
    const plan = faultPlan(new Random(7), 100, settings(nodes));

    it('inflicts every fault the bus allows in the first round, and one round is the minimum', () => {
      expect(faultsPerRound(settings(nodes))).toBe(perRound);
      expect(new Set(plan.slice(0, perRound).map((f) => f.kind))).toEqual(new Set(kinds));
      expect(new Set(plan.slice(0, perRound).map(shape)).size).toBe(perRound);
    });

    it('then repeats the same faults round after round, in a random order', () => {
      const first = plan.slice(0, perRound).map(shape).sort();
      const second = plan.slice(perRound, 2 * perRound).map(shape);
      expect([...second].sort()).toEqual(first);
      expect(second).not.toEqual(plan.slice(0, perRound).map(shape));
    });

    it('picks outages, tails and nodes within their ranges', () => {
      for (const f of plan) {
        if (f.kind === 'power-loss') expect(f.tailMs).toBeGreaterThanOrEqual(3_000);
        if (f.kind === 'power-loss') expect(f.tailMs).toBeLessThanOrEqual(8_000);
        if (f.kind === 'node')
          expect([f.downMs >= 4_000 && f.downMs <= 6_000, f.node >= 0 && f.node < nodes]).toEqual([true, true]);
      }
    });
  });

  it('cuts the power of the whole bus on one server, and of the bus or one node on a cluster', () => {
    const powerLosses = (nodes: number) =>
      faultPlan(new Random(1), faultsPerRound(settings(nodes)), settings(nodes))
        .filter((f) => f.kind === 'power-loss')
        .map((f) => (f.node === null ? 'bus' : 'node'));
    expect(powerLosses(1)).toEqual(['bus']);
    expect(powerLosses(3)).toEqual(['bus', 'node']);
  });

  it.each<[Fault['kind'][], number]>([
    [['power-loss'], 2],
    [['node'], 2],
    [['service'], 6],
    [['node', 'power-loss'], 4],
  ])('keeps only the kinds asked for (%j: %i per round)', (kinds, perRound) => {
    const plan = faultPlan(new Random(3), 20, settings(3, kinds));
    expect(plan).toHaveLength(20);
    expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(kinds));
    expect(faultsPerRound(settings(3, kinds))).toBe(perRound);
  });

  it('plans nothing for node faults on one server', () => {
    expect(faultPlan(new Random(3), 20, settings(1, ['node']))).toEqual([]);
    expect(faultsPerRound(settings(1, ['node']))).toBe(0);
  });

  it('replays the same plan for the same seed', () => {
    expect(labels(faultPlan(new Random(42), 40, settings(3)))).toEqual(labels(faultPlan(new Random(42), 40, settings(3))));
  });
});

describe('describing and counting faults', () => {
  it.each<[Fault, string]>([
    [{ kind: 'power-loss', node: null, tailMs: 7_400 }, 'power loss of NATS, last 7 s lost'],
    [{ kind: 'power-loss', node: 1, tailMs: 3_000 }, 'power loss of node n2, last 3 s lost'],
    [{ kind: 'node', how: 'kill', node: 0, downMs: 5_000 }, 'kill -9 node n1, down 5 s'],
    [{ kind: 'node', how: 'partition', node: 2, downMs: 6_000 }, 'partition node n3 6 s'],
    [{ kind: 'nats', how: 'down', downMs: 4_000 }, 'NATS down 4 s'],
    [{ kind: 'service', service: 'licensing', signal: 'SIGTERM' }, 'SIGTERM licensing'],
  ])('describes %j as "%s"', (fault, label) => {
    expect(describeFault(fault)).toBe(label);
  });

  it('counts power losses, node kills and partitions apart from the other faults', () => {
    const faults: Fault[] = [
      { kind: 'power-loss', node: null, tailMs: 1 },
      { kind: 'power-loss', node: 2, tailMs: 1 },
      { kind: 'power-loss', node: null, tailMs: 1 },
      { kind: 'node', how: 'kill', node: 0, downMs: 1 },
      { kind: 'node', how: 'partition', node: 1, downMs: 1 },
      { kind: 'node', how: 'partition', node: 1, downMs: 1 },
      { kind: 'service', service: 'pairing', signal: 'SIGKILL' },
      { kind: 'nats', how: 'restart', downMs: 0 },
      { kind: 'postgres', mode: 'immediate', downMs: 1 },
    ];
    expect(countFaults(faults)).toEqual({
      serviceKills: 1,
      serviceStops: 0,
      natsRestarts: 1,
      natsKills: 0,
      natsOutages: 0,
      powerLosses: 2,
      nodePowerLosses: 1,
      nodeKills: 1,
      partitions: 2,
      postgresCrashes: 1,
      postgresRestarts: 0,
    });
  });

  it.each([
    [{ A: 10, B: 5 }, { A: 14, B: 5 }, null, '4 acknowledged messages in the unsynced tail lost: A 4'],
    [{ A: 10 }, { A: 12 }, 'n2', '2 acknowledged messages in the unsynced tail lost on n2 (its peers hold them): A 2'],
    [{ A: 10 }, { A: 10 }, null, '0 acknowledged messages in the unsynced tail lost'],
    [null, { A: 10 }, null, 'tail not measured (JetStream did not answer)'],
  ])('measures the tail a power loss took (%j → %j)', (synced, acknowledged, node, text) => {
    expect(tailDetail(synced, acknowledged, node)).toBe(text);
  });
});
