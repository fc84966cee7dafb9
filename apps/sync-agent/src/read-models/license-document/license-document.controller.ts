import { Controller, Get, Header, Inject } from '@nestjs/common';
import {
  Allow,
  CLOCK,
  Caller,
  Public,
  READERS,
  EventStore,
  RuleViolation,
  SerialParam,
  SERVICE_CONFIG,
  type Clock,
  type LicenseSigningKeySetV1,
  type SignedLicenseDocumentV1,
  type Principal,
  type ServiceConfig,
} from '#shared';
import { effectiveSetOf } from '../../domain/effective-licenses/projection.js';
import { loadWorkingSet } from '../../facts/facts-store.js';
import { productVisibleTo } from '../../facts/tenancy.js';
import { LicenseSigningKeyRing } from './license-signing-keys.js';

/**
 * GET /products/:serial/license-document: the unit's effective set right now (computed at read time from the
 * projected facts, like GET /products/:serial/effective-licenses), signed so that the appliance can check it
 * offline. Every request issues a fresh document; nothing is stored.
 */
@Controller('products/:serial/license-document')
export class LicenseDocumentController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LicenseSigningKeyRing) private readonly keys: LicenseSigningKeyRing,
  ) {}

  @Get()
  @Allow(...READERS)
  @Header('Cache-Control', 'no-store')
  async get(@SerialParam() serial: string, @Caller() caller: Principal): Promise<SignedLicenseDocumentV1> {
    const now = this.clock.now();
    const visible = await productVisibleTo(this.store, caller, serial);
    const state = await this.store.transaction((tx) => loadWorkingSet(tx, [serial]));
    const set = visible ? effectiveSetOf(state, serial, now, { warningWindowDays: this.config.expiryWarningDays }) : null;
    // Another account's product answers exactly like one the agent does not know.
    if (!set)
      throw new RuleViolation('PRODUCT_NOT_FOUND', 'not-found', `The sync agent knows no product with serial "${serial}" (yet)`);
    return this.keys.issue(set, now);
  }
}

/** GET /.well-known/license-signing-keys: the public keys documents are verified with, and the active key id. */
@Controller('.well-known/license-signing-keys')
export class LicenseSigningKeysController {
  constructor(@Inject(LicenseSigningKeyRing) private readonly keys: LicenseSigningKeyRing) {}

  /** Public on purpose: public keys, fetched by appliances and verifiers that hold no API key. */
  @Get()
  @Public()
  // Short enough that a rotation (new key published, then used after a restart) reaches verifiers quickly.
  @Header('Cache-Control', 'public, max-age=300')
  get(): LicenseSigningKeySetV1 {
    return this.keys.publishedKeySet();
  }
}
