/**
 * Measurement 1, the raw limit: bench/raw-consumer.ts drains the backlog through its own durables. With
 * `verify`, the same script also verifies each event's signature: the raw limit under signed events.
 */
import { join } from 'node:path';
import type { Backlog } from './backlog.js';
import { NATS_URL, REPO_ROOT, namespaceFor } from './support/config.js';
import type { BenchContext } from './support/context.js';
import { timeConsumer, type ConsumerRunResult } from './support/consumer-run.js';
import { createSourceDurables } from './support/infra.js';
import { BenchProcess, pgEnv } from './support/processes.js';

export async function measureRaw(ctx: BenchContext, backlog: Backlog, verify = false): Promise<ConsumerRunResult> {
  const label = verify ? 'raw-verified' : 'raw';
  const durable = `bench-${label}`;
  const refs = await createSourceDurables(ctx.jsm, backlog.names, durable, 10_000);
  const child = BenchProcess.start(label, join(REPO_ROOT, 'dist', 'bench', 'raw-consumer.js'), {
    ...pgEnv(),
    BENCH_SCHEMA: namespaceFor(label),
    BENCH_NAMESPACE: backlog.names.namespace,
    BENCH_DURABLE: durable,
    BENCH_NATS_URL: NATS_URL,
    BENCH_RAW_VERIFY: verify ? '1' : '0',
  });
  try {
    return await timeConsumer({
      label,
      process: child,
      refs,
      total: backlog.total(),
      jsm: ctx.jsm,
      db: ctx.db,
      applicationName: 'bench-raw',
      maxSeconds: 600,
      log: ctx.log,
    });
  } finally {
    await child.stop();
  }
}
