import { randomUUID } from 'node:crypto';
import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { z } from 'zod';
import { RequestMetadata, EventStore, PlainText, SerialParam, valid, type CommandMetadata } from '#shared';
import { ProductDirectory } from '../product-directory.js';
import { ExpiryScheduler } from '../expiry-scheduler/expiry-scheduler.js';
import { decideLicense, licenseView, type LicenseView } from '../licenses.js';

/** An instant with an offset, normalised to UTC so stored instants compare as instants. */
export const Instant = z.iso
  .datetime({ offset: true, error: 'must be an ISO-8601 date-time with an offset' })
  .transform((s) => new Date(s).toISOString());

/** POST /products/:serial/licenses */
export const GrantLicenseBody = z.strictObject({
  sku: PlainText({ max: 64 }),
  expiresAt: Instant.nullable().optional(),
  trial: z.boolean().optional(),
});

@Controller('products/:serial/licenses')
export class GrantLicenseController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(ExpiryScheduler) private readonly scheduler: ExpiryScheduler,
    @Inject(ProductDirectory) private readonly products: ProductDirectory,
  ) {}

  @Post()
  @HttpCode(201)
  async grant(
    @SerialParam() serial: string,
    @Body(valid(GrantLicenseBody)) body: z.infer<typeof GrantLicenseBody>,
    @RequestMetadata() metadata: CommandMetadata,
  ): Promise<LicenseView> {
    // Asked before the transaction: a network round trip must not hold a database connection.
    const product = await this.products.registered(serial);
    const licenseId = randomUUID();
    const license = await decideLicense(
      this.store,
      {
        type: 'GrantLicense',
        data: { licenseId, serial, sku: body.sku, expiresAt: body.expiresAt ?? null, trial: body.trial ?? false },
        context: { product },
        metadata,
      },
      product?.accountId ?? null,
    );
    // Its entry into the warning window (or its expiry) may now be due before the scheduler's planned wake-up.
    this.scheduler.nudge(license.expiresAt);
    return licenseView(license, metadata.now);
  }
}
