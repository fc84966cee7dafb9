import { Controller, Get, Inject } from '@nestjs/common';
import {
  Allow,
  CLOCK,
  Caller,
  EventStore,
  READERS,
  loadState,
  SerialParam,
  UuidParam,
  type Clock,
  type Principal,
} from '#shared';
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
  @Allow(...READERS)
  async ofProduct(
    @SerialParam() serial: string,
    @Caller() caller: Principal,
  ): Promise<{ serial: string; licenses: LicenseView[] }> {
    // Another account's product answers exactly like an unknown serial.
    if (!(await this.products.isVisibleTo(caller, serial))) throw licenseErrors.productNotFound(serial);
    const now = this.clock.now();
    const licenses = await this.store.transaction((tx) => licensesOfProduct(tx, serial));
    // No license yet: tell an unknown serial (404) from a product that simply has none.
    if (licenses.length === 0 && !(await this.products.registered(serial))) throw licenseErrors.productNotFound(serial);
    return { serial, licenses: licenses.map((l) => licenseView(l, now)) };
  }

  @Get('licenses/:licenseId')
  @Allow(...READERS)
  async one(@UuidParam('licenseId') licenseId: string, @Caller() caller: Principal): Promise<LicenseView> {
    const { state } = await loadState(this.store, licenseDecider, licenseStreamId(licenseId));
    if (state.status === 'none' || !(await this.products.isVisibleTo(caller, state.license.serial)))
      throw licenseErrors.licenseNotFound(licenseId);
    return licenseView(state.license, this.clock.now());
  }
}
