import type { BusNames, DurableConsumerSpec } from '#shared';

/** The durable consumer name the sync agent reads pairing and licensing events with. */
export const SYNC_AGENT_DURABLE = 'sync-agent';

/**
 * The durable consumers that feed the effective-licenses projection: one per source stream. Declared once so
 * that main.ts consumes exactly the consumers whose backlog failover readiness reports.
 */
export function projectionConsumers(names: BusNames): DurableConsumerSpec[] {
  return [
    { stream: names.stream('pairing'), durable: SYNC_AGENT_DURABLE, filterSubject: names.allSubjects('pairing') },
    { stream: names.stream('licensing'), durable: SYNC_AGENT_DURABLE, filterSubject: names.allSubjects('licensing') },
  ];
}
