/**
 * Fills in the account of licenses granted before licenses_view had one, from pairing (a product's account never
 * changes), in the background once the service is connected: a few hundred products at a time, waiting and trying
 * again while pairing does not answer. New grants record their account themselves, so on a database that never had
 * such rows this reads one empty index and stops.
 */
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EventStore } from '#shared';
import { ProductDirectory } from '../product-directory.js';

const BATCH = 200;
const RETRY_MS = 5_000;

@Injectable()
export class LicenseAccounts implements OnApplicationShutdown {
  private readonly logger = new Logger('LicenseAccounts');
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ProductDirectory) private readonly products: ProductDirectory,
  ) {}

  /** Starts the fill in the background (once). */
  start(): void {
    this.running ??= this.fill().catch((error: Error) => this.logger.error(`filling license accounts failed: ${error.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async fill(): Promise<void> {
    // Serials pairing does not know (it never should) are skipped rather than asked about for ever.
    const unknown = new Set<string>();
    let filled = 0;
    while (!this.stopped) {
      const rows: { serial: string }[] = await this.store.transaction((tx) =>
        tx.query('SELECT DISTINCT serial FROM licenses_view WHERE account_id IS NULL AND NOT (serial = ANY($1)) LIMIT $2', [
          [...unknown],
          BATCH,
        ]),
      );
      if (rows.length === 0) break;
      try {
        for (const { serial } of rows) {
          const product = await this.products.registered(serial);
          if (product === null) {
            unknown.add(serial);
            continue;
          }
          await this.store.transaction((tx) =>
            tx.query('UPDATE licenses_view SET account_id = $2 WHERE serial = $1 AND account_id IS NULL', [
              serial,
              product.accountId,
            ]),
          );
          filled++;
        }
      } catch (error) {
        this.logger.warn(`pairing did not answer (${(error as Error).message}); trying again in ${RETRY_MS / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
    if (filled > 0) this.logger.log(`recorded the account of the licenses of ${filled} products`);
    if (unknown.size > 0) this.logger.warn(`pairing knows no product ${[...unknown].join(', ')}; their licenses have no account`);
  }
}
