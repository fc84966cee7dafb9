import type { BusNames, DurableConsumerSpec } from '#shared';

/** The durable consumer name the sync agent reads pairing and licensing events with. */
export const SYNC_AGENT_DURABLE = 'sync-agent';

/**
 * The durable consumers whose events become the facts: one per source stream. Declared once so that the consumer
 * module (sync-agent.module.ts), the rebuild and bus setup read exactly the consumers whose backlog failover
 * readiness reports.
 */
export function projectionConsumers(names: BusNames): DurableConsumerSpec[] {
  return [
    { stream: names.stream('pairing'), durable: SYNC_AGENT_DURABLE, filterSubject: names.allSubjects('pairing') },
    { stream: names.stream('licensing'), durable: SYNC_AGENT_DURABLE, filterSubject: names.allSubjects('licensing') },
  ];
}
