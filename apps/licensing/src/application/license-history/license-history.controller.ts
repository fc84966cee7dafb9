import { Controller, Get, Inject } from '@nestjs/common';
import { Allow, Caller, EventStore, READERS, assertNever, UuidParam, type LicenseStateV1, type Principal } from '#shared';
import { ProductDirectory } from '../product-directory.js';
import { licenseStreamId, type LicenseChange, type LicenseEvent } from '../../domain/license/license.events.js';
import { licenseErrors } from '../../domain/license/license.errors.js';

/** One step of a license's history: an event of its stream. */
export interface LicenseHistoryEntry {
  readonly eventId: string;
  readonly streamVersion: number;
  readonly type: LicenseEvent['type'];
  /** The change of an EntitlementChanged; null for an EntitlementExpiringSoon. */
  readonly change: LicenseChange | null;
  /** When the event was recorded. */
  readonly at: string;
  /** When the change took effect (an expiry's own instant) or the warning was issued. */
  readonly effectiveAt: string;
  /** Who made the change: the API key id of the request (null for an expiry or warning nobody asked for). */
  readonly actor: string | null;
  readonly license: LicenseStateV1;
  readonly transferredFrom?: string;
  readonly windowDays?: number;
}

/** GET /licenses/:licenseId/history: every event of the license, oldest first, read from its stream. */
@Controller('licenses/:licenseId/history')
export class LicenseHistoryController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ProductDirectory) private readonly products: ProductDirectory,
  ) {}

  @Get()
  @Allow(...READERS)
  async history(
    @UuidParam('licenseId') licenseId: string,
    @Caller() caller: Principal,
  ): Promise<{ licenseId: string; events: LicenseHistoryEntry[] }> {
    const stored = await this.store.readStream<LicenseEvent>(licenseStreamId(licenseId));
    // A transfer moves a license within one account, so the newest event's serial names its account.
    const serial = (stored.at(-1)?.data as { license?: LicenseStateV1 } | undefined)?.license?.serial;
    if (serial === undefined || !(await this.products.isVisibleTo(caller, serial)))
      throw licenseErrors.licenseNotFound(licenseId);
    const events = stored.map((e): LicenseHistoryEntry => {
      const common = {
        eventId: e.eventId,
        streamVersion: e.streamVersion,
        type: e.type,
        at: e.occurredAt,
        actor: e.metadata.actor ?? null,
      };
      const event = { type: e.type, data: e.data } as LicenseEvent;
      switch (event.type) {
        case 'EntitlementChanged': {
          const { change, license, changedAt, transferredFrom } = event.data;
          return {
            ...common,
            change,
            effectiveAt: changedAt,
            license,
            ...(transferredFrom === undefined ? {} : { transferredFrom }),
          };
        }
        case 'EntitlementExpiringSoon': {
          const { license, windowDays, warnedAt } = event.data;
          return { ...common, change: null, effectiveAt: warnedAt, license, windowDays };
        }
        default:
          return assertNever(event, 'license event');
      }
    });
    return { licenseId, events };
  }
}
