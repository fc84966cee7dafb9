import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { PublishedStream } from '../event-store/outbox-relay.js';

/**
 * A producer's view of its own stream on JetStream, for the relay's loss detection (see OutboxRelay). Each question
 * fails after `timeoutMs` without an answer (RELAY_JETSTREAM_SILENCE_MS for the relay), so that the relay asks again
 * rather than waiting out the connection's default while a cluster elects its leaders.
 */
export function publishedStream(nc: NatsConnection, stream: string, timeoutMs: number): PublishedStream {
  let manager: Promise<JetStreamManager> | undefined;
  const jsm = () => (manager ??= jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false }));
  return {
    // The server's INFO, parsed anew on every (re)connection before anything buffered is sent again.
    connection: () => nc.info,
    async state() {
      const { state } = await (await jsm()).streams.info(stream);
      return { messages: state.messages, firstSeq: state.first_seq, lastSeq: state.last_seq };
    },
    async messageIdAt(seq) {
      const message = await (await jsm()).streams.getMessage(stream, { seq });
      return message?.header?.get('Nats-Msg-Id') || null;
    },
  };
}
