/** Measurement 2, naive: bench/naive-consumer.ts (Nest + TypeORM, one event per transaction) on the backlog. */
import { join } from 'node:path';
import type { Backlog } from './backlog.js';
import { NATS_URL, REPO_ROOT, namespaceFor } from './support/config.js';
import type { BenchContext } from './support/context.js';
import { timeConsumer, type ConsumerRunResult } from './support/consumer-run.js';
import { createSourceDurables } from './support/infra.js';
import { BenchProcess, pgEnv } from './support/processes.js';

export async function measureNaive(ctx: BenchContext, backlog: Backlog): Promise<ConsumerRunResult> {
  const durable = 'bench-naive';
  const refs = await createSourceDurables(ctx.jsm, backlog.names, durable, 1_000);
  const child = BenchProcess.start('naive', join(REPO_ROOT, 'dist', 'bench', 'naive-consumer.js'), {
    ...pgEnv(),
    BENCH_SCHEMA: namespaceFor('naive'),
    BENCH_NAMESPACE: backlog.names.namespace,
    BENCH_DURABLE: durable,
    BENCH_NATS_URL: NATS_URL,
  });
  try {
    return await timeConsumer({
      label: 'naive',
      process: child,
      refs,
      total: backlog.total(),
      jsm: ctx.jsm,
      db: ctx.db,
      applicationName: 'bench-naive',
      maxSeconds: ctx.config.naiveMaxSeconds,
      log: ctx.log,
    });
  } finally {
    await child.stop();
  }
}
