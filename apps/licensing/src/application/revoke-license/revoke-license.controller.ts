import { Controller, Delete, Headers, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import { CLOCK, Caller, EventStore, handleCommand, valid, type Clock, type Principal } from '#shared';
import { licenseDecider } from '../../domain/license/license.decide.js';
import { licenseStreamId } from '../../domain/license/license.events.js';
import { licenseOf, licenseView, licenseRowWrite, type LicenseView } from '../licenses.js';

/** DELETE /licenses/:licenseId: revokes the license (on the product and on any Secondary sharing it). */
@Controller('licenses')
export class RevokeLicenseController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Delete(':licenseId')
  async revoke(
    @Param('licenseId', valid(z.uuid('must be a UUID'), 'licenseId')) licenseId: string,
    @Caller() caller: Principal,
    @Headers('x-correlation-id') correlationId?: string,
  ): Promise<LicenseView> {
    const now = this.clock.now();
    const { state } = await handleCommand({
      store: this.store,
      decider: licenseDecider,
      streamId: licenseStreamId(licenseId),
      command: { type: 'RevokeLicense', data: { licenseId }, metadata: { now, correlationId, actor: caller.keyId } },
      project: licenseRowWrite,
    });
    return licenseView(licenseOf(state), now);
  }
}
