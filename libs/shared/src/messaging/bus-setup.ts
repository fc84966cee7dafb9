import type { JetStreamManager } from '@nats-io/jetstream';
import type { BusNames } from '../contracts/index.js';
import { EVENT_SOURCES } from '../event-signing/event-key-ring.js';
import { ensureDurableConsumer, type DurableConsumerSpec } from './durable-consumer.js';
import { deadLetterIndexConsumers } from '../dead-letters/dead-letter-index.js';
import { DEFAULT_STREAM_LIMITS, ensureDeadLetterStream, ensureEventStream, type StreamLimits } from './streams.js';

/**
 * The bus administration the services' own users may not do: creates (or updates) every event stream, the
 * dead-letter stream, and every durable consumer (with each one's dead-letter index consumer). Run with an admin bus user (`npm run bus:setup`, the compose `bus-setup` step) before the
 * services start; against a server without authorization the services also do it themselves. Streams get
 * `replicas` copies (STREAM_REPLICAS: 3 on a 3-node JetStream cluster).
 */
export async function setupBus(
  jsm: JetStreamManager,
  names: BusNames,
  consumers: readonly DurableConsumerSpec[],
  log: (message: string) => void = () => undefined,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
): Promise<void> {
  for (const source of EVENT_SOURCES) {
    await ensureEventStream(jsm, names, source, limits);
    log(`stream ${names.stream(source)} (${names.allSubjects(source)}) ready`);
  }
  await ensureDeadLetterStream(jsm, names, limits);
  log(`stream ${names.deadLetterStream} (${names.allDeadLetterSubjects}) ready`);
  for (const spec of [...consumers, ...deadLetterIndexConsumers(names, consumers)]) {
    await ensureDurableConsumer(jsm, spec);
    log(`durable consumer ${spec.durable} on ${spec.stream} ready`);
  }
}
