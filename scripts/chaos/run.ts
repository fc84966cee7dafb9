/**
 * `npm run chaos`: the chaos harness (see harness.ts and the README's "Chaos testing"). Loopback only; it
 * starts its own PostgreSQL and NATS and removes them at the end, also on Ctrl-C.
 *
 *   CHAOS_SECONDS       how long the load and the nemesis run (default 180; at least one round of every fault)
 *   CHAOS_NATS          cluster: a 3-node JetStream cluster, streams with 3 replicas (default);
 *                       single: one nats-server, as docker-compose deploys it
 *   CHAOS_SEED          the random seed (default: a new one, printed)
 *   CHAOS_CONCURRENCY   concurrent load workers (default 4)
 *   CHAOS_FAULTS        only these kinds of fault, comma-separated: service, nats, postgres, power-loss, node
 *                       (default all; node needs the cluster)
 *   OPERATOR_API_KEY    the operator key sent with every request and given to the services (default: a new one)
 *
 * Exit code: 0 when every check passed, 1 when one failed (missing, extra, hung or non-problem answers...),
 * 2 when the harness itself could not run, 130 when interrupted.
 */
import { chaosOptions, formatReport, runChaos } from './harness.js';
import type { BusMode } from './nats-bus.js';
import { FAULT_KINDS, type Fault } from './nemesis.js';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

function faultKinds(raw: string): Fault['kind'][] {
  const kinds = raw.split(',').map((k) => k.trim());
  const known: readonly string[] = FAULT_KINDS;
  const unknown = kinds.filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    console.error(`CHAOS_FAULTS: unknown kind(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
    process.exit(2);
  }
  return kinds as Fault['kind'][];
}

function busMode(raw: string | undefined): BusMode {
  if (raw === undefined || raw === '' || raw === 'cluster') return 'cluster';
  if (raw === 'single') return 'single';
  console.error(`CHAOS_NATS must be cluster or single, got "${raw}"`);
  process.exit(2);
}

const seconds = positiveInt('CHAOS_SECONDS', 180);
const abort = new AbortController();
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error(`${signal}: stopping the run and cleaning up (again to exit at once)`);
  abort.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const options = chaosOptions(seconds, {
  signal: abort.signal,
  ...(process.env.CHAOS_SEED ? { seed: positiveInt('CHAOS_SEED', 1) } : {}),
  concurrency: positiveInt('CHAOS_CONCURRENCY', 4),
  bus: busMode(process.env.CHAOS_NATS),
  ...(process.env.CHAOS_FAULTS ? { faultKinds: faultKinds(process.env.CHAOS_FAULTS) } : {}),
  ...(process.env.OPERATOR_API_KEY ? { apiKey: process.env.OPERATOR_API_KEY } : {}),
});

try {
  const report = await runChaos(options);
  console.log(formatReport(report));
  process.exit(report.failures.length === 0 ? 0 : 1);
} catch (error) {
  console.error(interrupted ? 'interrupted' : `chaos harness failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(interrupted ? 130 : 2);
}
