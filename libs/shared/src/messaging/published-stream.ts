import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { PublishedStream } from '../event-store/outbox-relay.js';

/** A producer's view of its own stream on JetStream, for the relay's loss detection (see OutboxRelay). */
export function publishedStream(
  jsm: Pick<JetStreamManager, 'streams'>,
  stream: string,
  nc: Pick<NatsConnection, 'info'>,
): PublishedStream {
  return {
    // The server's INFO, parsed anew on every (re)connection before anything buffered is sent again.
    connection: () => nc.info,
    async state() {
      const { state } = await jsm.streams.info(stream);
      return { messages: state.messages, firstSeq: state.first_seq, lastSeq: state.last_seq };
    },
    async messageIdAt(seq) {
      const message = await jsm.streams.getMessage(stream, { seq });
      return message?.header?.get('Nats-Msg-Id') || null;
    },
  };
}
