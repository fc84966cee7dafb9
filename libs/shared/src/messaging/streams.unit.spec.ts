import { describe, expect, it } from '@jest/globals';
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { busNames } from '../contracts/index.js';
import { RELAY_RETRY_HORIZON_MS } from '../event-store/outbox-relay.js';
import { CONSUMER_DEFAULTS, redeliveryDelayMs } from './durable-consumer.js';
import { DEFAULT_STREAM_LIMITS, DUPLICATE_WINDOW_MS, deadLetterStreamConfig, eventStreamConfig } from './streams.js';

describe('the JetStream settings', () => {
  const names = busNames('');

  it('keep events and dead letters on file, by limits, with the same duplicate window', () => {
    for (const config of [eventStreamConfig(names, 'pairing'), deadLetterStreamConfig(names)]) {
      expect(config).toMatchObject({
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      });
    }
    expect(deadLetterStreamConfig(names)).toMatchObject({ name: 'DEAD_LETTER', subjects: ['dead-letter.>'] });
  });

  it('bound every stream in bytes (1 GiB unless told), discarding the oldest messages', () => {
    const limits = { maxBytes: 5 * 1024 ** 2 };
    for (const config of [eventStreamConfig(names, 'licensing'), deadLetterStreamConfig(names)])
      expect(config).toMatchObject({ max_bytes: 1024 ** 3, discard: DiscardPolicy.Old });
    expect(DEFAULT_STREAM_LIMITS.maxBytes).toBe(1024 ** 3);
    for (const config of [eventStreamConfig(names, 'licensing', limits), deadLetterStreamConfig(names, limits)])
      expect(config).toMatchObject({ max_bytes: 5 * 1024 ** 2, discard: DiscardPolicy.Old });
  });

  it('have a duplicate window longer than the relay takes to publish an unacknowledged event again', () => {
    // Every copy a live relay makes falls inside the window, with a wide margin for a slow round.
    expect(DUPLICATE_WINDOW_MS).toBeGreaterThanOrEqual(10 * RELAY_RETRY_HORIZON_MS);
  });

  it('bound deliveries with growing nak delays, and the messages in flight', () => {
    const delays = Array.from({ length: CONSUMER_DEFAULTS.maxDeliver - 1 }, (_, i) => redeliveryDelayMs(i + 1));
    expect(delays.slice(0, 4)).toEqual([1000, 2000, 4000, 8000]);
    expect(Math.max(...delays)).toBe(CONSUMER_DEFAULTS.maxRetryDelayMs);
    expect(CONSUMER_DEFAULTS.maxAckPending).toBeGreaterThan(CONSUMER_DEFAULTS.batchSize);
  });
});
