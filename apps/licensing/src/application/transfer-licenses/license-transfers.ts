/**
 * License transfer on replacement (RMA), driven ASYNCHRONOUSLY by pairing's ProductsAssociated events (durable
 * consumer `licensing` on the pairing stream). When a pair was formed by replacing a failed unit, every active
 * license of the failed unit moves to its successor: one TransferLicense per license, each through
 * handleCommand in its own transaction.
 *
 * Idempotent under redelivery twice over: the decider does nothing for a license no longer on the failed unit,
 * and an event handled to the end is recorded in `handled_events` with the stream position it came from, so a
 * late redelivery changes nothing even if a license was granted to the failed unit meanwhile. A copy of a handled
 * event from another position (a replay) is refused and dead-lettered by the consumer. A crash half-way leaves
 * the event unrecorded; its redelivery moves the licenses still left.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CLOCK,
  EventStore,
  handleCommand,
  repeatKind,
  replayDetail,
  type BatchHandler,
  type Clock,
  type EventEnvelope,
  type RefusedEvent,
  type StreamPosition,
} from '#shared';
import { licenseDecider } from '../../domain/license/license.decide.js';
import { licenseStreamId } from '../../domain/license/license.events.js';
import { activeLicenseIdsOf, projectLicense } from '../licenses.js';

type ProductsAssociated = EventEnvelope & { type: 'ProductsAssociated' };

@Injectable()
export class LicenseTransfers {
  private readonly logger = new Logger('LicenseTransfers');

  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * The consumer's batch handler. Events without `replaces` (and any other type) are acknowledged and ignored;
   * replays of handled ones are returned as refused.
   */
  readonly handle: BatchHandler = async (batch, positions = []) => {
    const refused: RefusedEvent[] = [];
    for (const [index, event] of batch.entries()) {
      if (event.type !== 'ProductsAssociated' || !event.data.replaces) continue;
      const replay = await this.transferOnReplacement(event, positions[index]);
      if (replay) refused.push({ index, reason: 'REPLAYED', detail: replay });
    }
    return refused;
  };

  /** Moves the failed unit's licenses; when the event was handled before from another position, says so instead. */
  private async transferOnReplacement(event: ProductsAssociated, source: StreamPosition | undefined): Promise<string | null> {
    const replaces = event.data.replaces!;
    const handled: { source_stream: string | null; source_seq: string | null }[] = await this.store.transaction((tx) =>
      tx.query('SELECT source_stream, source_seq FROM handled_events WHERE event_id = $1', [event.eventId]),
    );
    if (handled[0]) {
      const { source_stream: stream, source_seq: seq } = handled[0];
      const handledFrom = stream === null || seq === null ? null : { stream, seq: Number(seq) };
      return repeatKind(handledFrom, source) === 'redelivery' ? null : replayDetail(event, handledFrom);
    }

    const { failedSerial, successorSerial } = replaces;
    const licenseIds = await this.store.transaction((tx) => activeLicenseIdsOf(tx, failedSerial));
    let moved = 0;
    for (const licenseId of licenseIds) {
      const { events } = await handleCommand({
        store: this.store,
        decider: licenseDecider,
        streamId: licenseStreamId(licenseId),
        command: () =>
          Promise.resolve({
            type: 'TransferLicense' as const,
            data: { licenseId, fromSerial: failedSerial, toSerial: successorSerial },
            metadata: {
              now: this.clock.now(),
              correlationId: event.metadata.correlationId,
              causationId: event.eventId,
              // The replacement's actor made this transfer happen.
              actor: event.metadata.actor,
            },
          }),
        afterAppend: projectLicense,
      });
      moved += events.length;
    }
    await this.store.transaction((tx) =>
      tx.query(
        `INSERT INTO handled_events (event_id, handled_at, source_stream, source_seq) VALUES ($1, $2, $3, $4)
         ON CONFLICT (event_id) DO NOTHING`,
        [event.eventId, this.clock.now(), source?.stream ?? null, source?.seq ?? null],
      ),
    );
    this.logger.log(
      `replacement of ${failedSerial} in pair ${replaces.pairId}: transferred ${moved} of ${licenseIds.length} active licenses to ${successorSerial}`,
    );
    return null;
  }
}
