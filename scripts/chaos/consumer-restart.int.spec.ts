/**
 * A durable consumer across a restart of the whole JetStream cluster: it must go on applying what is published once
 * the cluster is back, without waiting out a pull request's expiry. nats.js looks the consumer up again after a
 * reconnect, and after a failed lookup (the cluster still electing its leaders) waits between half and one and a
 * half expiries: with its default of 30 s, the message below was applied 17.5–30.9 s after it was stored.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { BatchingConsumer, CONSUMER_DEFAULTS, ensureDurableConsumer } from '#shared';
import { eventually } from '#shared/testing';
import { publishUntilStored, startScratchBus, type ScratchBus } from './nats-bus.js';

const SPEC = { stream: 'CONSUMER_RESTART', durable: 'consumer-restart' };

describe('a durable consumer when the whole cluster restarts', () => {
  let scratch: ScratchBus | undefined;
  let consumer: BatchingConsumer<string> | undefined;

  afterEach(async () => {
    await consumer?.stop();
    await scratch?.dispose();
  });

  it('applies what is published after the restart within two pull expiries', async () => {
    scratch = await startScratchBus('consumer-restart', 'cluster');
    const { bus, nc } = scratch;
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc, { timeout: 5_000 });
    await bus.addStream(jsm, SPEC.stream, ['consumer-restart.>']);
    await ensureDurableConsumer(jsm, SPEC);
    const applied: string[] = [];
    consumer = new BatchingConsumer<string>(
      js,
      [SPEC],
      async (batch) => {
        applied.push(...batch);
      },
      undefined,
      { decode: (msg) => ({ ok: true, value: new TextDecoder().decode(msg.data) }) },
    );
    await consumer.start();
    const publish = (body: string) => publishUntilStored(js, 'consumer-restart.x', body, body);
    await publish('before');
    await eventually(async () => applied.includes('before'), {
      timeoutMs: 10_000,
      intervalMs: 50,
      description: '"before" applied',
    });

    await bus.stopAll('SIGTERM');
    await bus.startAll();
    await publish('after');
    await eventually(async () => applied.includes('after'), {
      timeoutMs: CONSUMER_DEFAULTS.pullExpiresMs * 2,
      intervalMs: 50,
      description: '"after" applied within two pull expiries of being stored',
    });
    expect(applied).toEqual(['before', 'after']);
  }, 120_000);
});
