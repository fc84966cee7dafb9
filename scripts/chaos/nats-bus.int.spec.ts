/**
 * The chaos bus against real nats-servers: a power loss (store restored to a copy) loses what JetStream
 * acknowledged after the copy, on one server and on a whole cluster; a cluster keeps it when one node loses power,
 * is killed or is paused.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventually } from '#shared/testing';
import { publishUntilStored, startScratchBus, type BusMode, type ChaosBus, type ScratchBus } from './nats-bus.js';

const STREAM = 'CHAOS_BUS_TEST';

describe('the chaos bus', () => {
  let scratch: ScratchBus | undefined;
  let bus: ChaosBus | undefined;
  let nc: NatsConnection | undefined;

  afterEach(async () => {
    await scratch?.dispose();
    scratch = bus = nc = undefined;
  });

  async function start(
    mode: BusMode,
  ): Promise<{ publish: (n: number) => Promise<void>; stored: () => Promise<number>; whole: () => Promise<void> }> {
    scratch = await startScratchBus('chaos-bus', mode, (urls) =>
      connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 }),
    );
    ({ bus, nc } = scratch);
    await bus.addStream(await jetstreamManager(nc), STREAM, ['chaos.bus.>']);
    const js = jetstream(nc, { timeout: 5_000 });
    let next = 0;
    return {
      // Each message under its own id, published again while the cluster elects a new leader.
      publish: async (n) => {
        for (let i = 0; i < n; i++, next++) await publishUntilStored(js, `chaos.bus.${next}`, 'x', `m${next}`);
      },
      // Every replica of the stream current again (a restarted node has caught up), so one more faulty node still
      // leaves a quorum of two healthy ones.
      whole: async () => {
        await eventually(
          async () => {
            const { cluster } = await (await jetstreamManager(nc!, { timeout: 2_000 })).streams.info(STREAM);
            const replicas = cluster?.replicas ?? [];
            return (
              Boolean(cluster?.leader) && replicas.length === bus!.replicas - 1 && replicas.every((r) => r.current && !r.offline)
            );
          },
          { timeoutMs: 30_000, intervalMs: 250, description: 'every replica of the stream current' },
        );
      },
      stored: async () =>
        eventually(async () => (await (await jetstreamManager(nc!, { timeout: 2_000 })).streams.info(STREAM)).state.messages, {
          timeoutMs: 30_000,
          intervalMs: 250,
          description: 'the stream to answer',
        }),
    };
  }

  it.each<[BusMode]>([['single'], ['cluster']])(
    'loses the acknowledged messages after the copy when every node of a %s bus loses power',
    async (mode) => {
      const { publish, stored } = await start(mode);
      await publish(20);
      await bus!.snapshot();
      await publish(30); // acknowledged, but only in the unsynced tail
      await bus!.stopAll('SIGKILL');
      for (const node of bus!.nodes) await node.restore();
      await bus!.startAll();
      expect(await stored()).toBe(20);
    },
    60_000,
  );

  it('keeps every acknowledged message when one node of the cluster loses power, is killed or is paused', async () => {
    const { publish, stored, whole } = await start('cluster');
    const [n1, n2] = bus!.nodes;
    await publish(10);
    await bus!.snapshot([n1!]);
    await publish(10);
    await n1!.kill();
    await n1!.restore();
    await n1!.start();
    await whole();
    await n2!.kill();
    await publish(10);
    await n2!.start();
    await whole();
    // Not the node the test's client is connected to: its connection would stall with it.
    const stalled = bus!.nodes.find((n) => n.name !== nc!.info?.server_name)!;
    stalled.pause();
    await publish(10);
    stalled.resume();
    expect(await stored()).toBe(40);
  }, 90_000);
});
