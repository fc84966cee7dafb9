import { Controller, Get, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import { CLOCK, EventStore, Serial, loadState, valid, type Clock } from '#shared';
import { licenseDecider } from '../../domain/license/license.decide.js';
import { licenseStreamId } from '../../domain/license/license.events.js';
import { licenseErrors } from '../../domain/license/license.errors.js';
import { ProductDirectory } from '../product-directory.js';
import { licenseView, licensesOfProduct, type LicenseView } from '../licenses.js';

@Controller()
export class ViewLicensesController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ProductDirectory) private readonly products: ProductDirectory,
  ) {}

  /** Every license granted to the product (active, expired and revoked), oldest first. */
  @Get('products/:serial/licenses')
  async ofProduct(
    @Param('serial', valid(Serial, 'serial')) serial: string,
  ): Promise<{ serial: string; licenses: LicenseView[] }> {
    const now = this.clock.now();
    const licenses = await this.store.transaction((tx) => licensesOfProduct(tx, serial));
    // No license yet: tell an unknown serial (404) from a product that simply has none.
    if (licenses.length === 0 && !(await this.products.find(serial))) throw licenseErrors.productNotFound(serial);
    return { serial, licenses: licenses.map((l) => licenseView(l, now)) };
  }

  @Get('licenses/:licenseId')
  async one(@Param('licenseId', valid(z.uuid('must be a UUID'), 'licenseId')) licenseId: string): Promise<LicenseView> {
    const { state } = await loadState(this.store, licenseDecider, licenseStreamId(licenseId));
    if (state.status === 'none') throw licenseErrors.licenseNotFound(licenseId);
    return licenseView(state.license, this.clock.now());
  }
}
