/**
 * License transfer on replacement (RMA), driven ASYNCHRONOUSLY by pairing's ProductsAssociated events (durable
 * consumer `licensing` on the pairing stream). When a pair was formed by replacing a failed unit, every active
 * license of the failed unit moves to its successor: one TransferLicense per license, each through
 * handleCommand in its own transaction.
 *
 * Idempotent under redelivery twice over: the decider does nothing for a license no longer on the failed unit,
 * and an event handled to the end is recorded in `handled_events`, so a late redelivery changes nothing even if
 * a license was granted to the failed unit meanwhile. A crash half-way leaves the event unrecorded; its
 * redelivery moves the licenses still left.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, EventStore, ServiceRuntime, handleCommand, type BatchHandler, type Clock, type EventEnvelope } from '#shared';
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
    /** Counts replays in metrics; absent in tests that drive the handler alone. */
    @Inject(ServiceRuntime) private readonly runtime?: ServiceRuntime,
  ) {}

  /** The consumer's batch handler. Events without `replaces` (and any other type) are acknowledged and ignored. */
  readonly handle: BatchHandler = async (batch) => {
    for (const event of batch) {
      if (event.type === 'ProductsAssociated' && event.data.replaces) await this.transferOnReplacement(event);
    }
  };

  private async transferOnReplacement(event: ProductsAssociated): Promise<void> {
    const replaces = event.data.replaces!;
    const handled: unknown[] = await this.store.transaction((tx) =>
      tx.query('SELECT 1 FROM handled_events WHERE event_id = $1', [event.eventId]),
    );
    if (handled.length > 0) {
      // Handled before: a replay (or a late redelivery) of an event already applied.
      this.runtime?.rejected('replayed');
      return;
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
            metadata: { now: this.clock.now(), correlationId: event.metadata.correlationId, causationId: event.eventId },
          }),
        afterAppend: projectLicense,
      });
      moved += events.length;
    }
    await this.store.transaction((tx) =>
      tx.query('INSERT INTO handled_events (event_id, handled_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING', [
        event.eventId,
        this.clock.now(),
      ]),
    );
    this.logger.log(
      `replacement of ${failedSerial} in pair ${replaces.pairId}: transferred ${moved} of ${licenseIds.length} active licenses to ${successorSerial}`,
    );
  }
}
