import {
  assertNever,
  type EventEnvelope,
  type LicenseStateV1,
  type LicensingEvent,
  type PairingEvent,
  type PairReplacementV1,
  type ProductsAssociatedV1,
} from '#shared/contracts';

/**
 * Test support: plays a history the way the pairing and licensing services would write it, one method per
 * business operation, numbering every aggregate's stream from 1 and advancing a clock a minute per operation.
 * A product joins at most one pair at a time (associating a paired product dissociates its old pair first), only
 * active licenses are renewed, revoked, transferred or warned about, and a replacement comes in the order the services
 * publish it: the new pair's association (with `replaces`), then the old pair's dissociation (with `replacedBy`),
 * and licensing's transfers later, on their own.
 */
export class History {
  /** In the order the publishers produced them: a valid causal order. */
  readonly events: EventEnvelope[] = [];
  private readonly versions = new Map<string, number>();
  private readonly pairBySerial = new Map<string, ProductsAssociatedV1>();
  private readonly licenseById = new Map<string, LicenseStateV1>();
  private readonly products = new Map<string, { model: string; firmwareVersion: string; accountId: string }>();
  private ids = 0;
  private clock: number;

  /** `idSpace` keeps the ids of several histories in one test apart. */
  constructor(
    start = Date.parse('2025-01-01T00:00:00.000Z'),
    private readonly idSpace = 0,
  ) {
    this.clock = start;
  }

  /** The current instant of the history's clock. */
  get now(): string {
    return new Date(this.clock).toISOString();
  }

  /** A fresh, deterministic uuid. */
  nextId(): string {
    return `${this.idSpace.toString(16).padStart(8, '0')}-0000-4000-8000-${(++this.ids).toString(16).padStart(12, '0')}`;
  }

  /** The pair `serial` is in, or undefined. */
  pairOf(serial: string): ProductsAssociatedV1 | undefined {
    return this.pairBySerial.get(serial);
  }

  /** Every license, as it stands now, in grant order. */
  get licenses(): LicenseStateV1[] {
    return [...this.licenseById.values()];
  }

  license(licenseId: string): LicenseStateV1 {
    const license = this.licenseById.get(licenseId);
    if (license === undefined) throw new Error(`no license ${licenseId}`);
    return license;
  }

  isRegistered(serial: string): boolean {
    return this.products.has(serial);
  }

  register(serial: string, model = 'NSA 2700', firmwareVersion = '7.0.1', accountId = 'acme'): EventEnvelope {
    this.products.set(serial, { model, firmwareVersion, accountId });
    return this.emit(`product-${serial}`, {
      type: 'ProductRegistered',
      data: { serial, model, firmwareVersion, accountId, registeredAt: this.tick() },
    });
  }

  /** Changes a product's firmware; nothing when it already runs that version. */
  changeFirmware(serial: string, firmwareVersion: string): EventEnvelope | null {
    const product = this.products.get(serial);
    if (product === undefined || product.firmwareVersion === firmwareVersion) return null;
    const previousFirmwareVersion = product.firmwareVersion;
    this.products.set(serial, { ...product, firmwareVersion });
    return this.emit(`product-${serial}`, {
      type: 'ProductFirmwareChanged',
      data: {
        serial,
        model: product.model,
        accountId: product.accountId,
        previousFirmwareVersion,
        firmwareVersion,
        changedAt: this.tick(),
      },
    });
  }

  /** Associates two units (dissociating their current pairs first); null when they are the same unit. */
  associate(
    primarySerial: string,
    secondarySerial: string,
    replaces: PairReplacementV1 | null = null,
  ): ProductsAssociatedV1 | null {
    if (primarySerial === secondarySerial) return null;
    this.dissociate(primarySerial);
    this.dissociate(secondarySerial);
    const { model, accountId } = this.products.get(primarySerial) ?? { model: 'NSA 2700', accountId: 'acme' };
    const pair: ProductsAssociatedV1 = {
      pairId: this.nextId(),
      primarySerial,
      secondarySerial,
      model,
      accountId,
      associatedAt: this.tick(),
      ...(replaces === null ? {} : { replaces }),
    };
    this.pairBySerial.set(primarySerial, pair);
    this.pairBySerial.set(secondarySerial, pair);
    this.emit(`pair-${pair.pairId}`, { type: 'ProductsAssociated', data: pair });
    return pair;
  }

  /** Dissociates the pair `serial` is in, if any. */
  dissociate(serial: string, replacedBy: string | null = null): void {
    const pair = this.pairBySerial.get(serial);
    if (pair === undefined) return;
    this.pairBySerial.delete(pair.primarySerial);
    this.pairBySerial.delete(pair.secondarySerial);
    this.emit(`pair-${pair.pairId}`, {
      type: 'ProductsDissociated',
      data: { ...pair, dissociatedAt: this.tick(), ...(replacedBy === null ? {} : { replacedBy }) },
    });
  }

  /**
   * Replaces the failed unit of a pair by an unpaired unit, as pairing does: the new pair first, then the old
   * pair's dissociation. If the Primary failed, the old Secondary becomes the Primary and succeeds it; if the
   * Secondary failed, the replacement succeeds it. Null when the failed unit is not paired or the replacement is.
   */
  replace(failedSerial: string, replacementSerial: string): { pair: ProductsAssociatedV1; successorSerial: string } | null {
    const old = this.pairBySerial.get(failedSerial);
    if (old === undefined || this.pairBySerial.has(replacementSerial) || replacementSerial === failedSerial) return null;
    const primaryFailed = old.primarySerial === failedSerial;
    const successorSerial = primaryFailed ? old.secondarySerial : replacementSerial;
    const primarySerial = primaryFailed ? old.secondarySerial : old.primarySerial;
    const { model, accountId } = old;
    const pair: ProductsAssociatedV1 = {
      pairId: this.nextId(),
      primarySerial,
      secondarySerial: replacementSerial,
      model,
      accountId,
      associatedAt: this.tick(),
      replaces: { pairId: old.pairId, failedSerial, replacementSerial, successorSerial },
    };
    this.emit(`pair-${pair.pairId}`, { type: 'ProductsAssociated', data: pair });
    this.pairBySerial.delete(old.primarySerial);
    this.pairBySerial.delete(old.secondarySerial);
    this.emit(`pair-${old.pairId}`, {
      type: 'ProductsDissociated',
      data: { ...old, dissociatedAt: pair.associatedAt, replacedBy: pair.pairId },
    });
    this.pairBySerial.set(primarySerial, pair);
    this.pairBySerial.set(replacementSerial, pair);
    return { pair, successorSerial };
  }

  grant(serial: string, sku: string, expiresAt: string | null = null, trial = false): LicenseStateV1 {
    const grantedAt = this.tick();
    const license: LicenseStateV1 = {
      licenseId: this.nextId(),
      serial,
      sku,
      trial,
      expiresAt,
      status: 'active',
      grantedAt,
      revokedAt: null,
    };
    this.licenseById.set(license.licenseId, license);
    this.emit(`license-${license.licenseId}`, {
      type: 'EntitlementChanged',
      data: { change: 'granted', license, changedAt: grantedAt },
    });
    return license;
  }

  renew(licenseId: string, expiresAt: string | null): EventEnvelope | null {
    return this.change(licenseId, 'renewed', { expiresAt });
  }

  revoke(licenseId: string): EventEnvelope | null {
    return this.change(licenseId, 'revoked', { status: 'revoked', revokedAt: this.tick() });
  }

  /** Licensing's 'expired' record of an active license (its state does not change: expiry is computed). */
  recordExpiry(licenseId: string): EventEnvelope | null {
    return this.change(licenseId, 'expired', {});
  }

  /** Licensing's transfer of one active license to another unit. */
  transfer(licenseId: string, toSerial: string): EventEnvelope | null {
    const from = this.licenseById.get(licenseId)?.serial;
    if (from === undefined || from === toSerial) return null;
    return this.change(licenseId, 'transferred', { serial: toSerial }, from);
  }

  /** Licensing's reaction to a replacement: every active license of the failed unit moves to its successor. */
  transferAll(failedSerial: string, successorSerial: string): EventEnvelope[] {
    return this.licenses
      .filter((l) => l.serial === failedSerial)
      .map((l) => this.transfer(l.licenseId, successorSerial))
      .filter((e): e is EventEnvelope => e !== null);
  }

  /** Licensing's expiry warning for an active, expiring license. */
  warn(licenseId: string, windowDays = 30): EventEnvelope | null {
    const license = this.licenseById.get(licenseId);
    if (license === undefined || license.status !== 'active' || license.expiresAt === null) return null;
    return this.emit(`license-${licenseId}`, {
      type: 'EntitlementExpiringSoon',
      data: { license, windowDays, warnedAt: this.tick() },
    });
  }

  private change(
    licenseId: string,
    change: 'renewed' | 'revoked' | 'expired' | 'transferred',
    patch: Partial<LicenseStateV1>,
    transferredFrom?: string,
  ): EventEnvelope | null {
    const current = this.licenseById.get(licenseId);
    if (current === undefined || current.status !== 'active') return null;
    const license = { ...current, ...patch };
    this.licenseById.set(licenseId, license);
    return this.emit(`license-${licenseId}`, {
      type: 'EntitlementChanged',
      data: { change, license, changedAt: this.tick(), ...(transferredFrom === undefined ? {} : { transferredFrom }) },
    });
  }

  private tick(): string {
    this.clock += 60_000;
    return this.now;
  }

  private emit(streamId: string, event: PairingEvent | LicensingEvent): EventEnvelope {
    const streamVersion = (this.versions.get(streamId) ?? 0) + 1;
    this.versions.set(streamId, streamVersion);
    const envelope = {
      eventId: this.nextId(),
      schemaVersion: 1,
      streamId,
      streamVersion,
      occurredAt: this.now,
      metadata: { correlationId: null, causationId: null },
      ...event,
    } as EventEnvelope;
    this.events.push(envelope);
    return envelope;
  }
}

/** Which bus stream an event travels on: JetStream keeps each stream's order, not the order between streams. */
export function busStreamOf(envelope: EventEnvelope): 'pairing' | 'licensing' | 'sync-agent' {
  switch (envelope.type) {
    case 'ProductRegistered':
    case 'ProductFirmwareChanged':
    case 'ProductsAssociated':
    case 'ProductsDissociated':
      return 'pairing';
    case 'EntitlementChanged':
    case 'EntitlementExpiringSoon':
      return 'licensing';
    case 'EffectiveLicensesChanged':
    case 'StatefulSyncChanged':
      return 'sync-agent';
    default:
      return assertNever(envelope, 'event');
  }
}

/**
 * Merges the pairing and licensing events of `events` as the sync agent may receive them: each stream in its
 * own order, the two interleaved as `picks` says (true takes the next pairing event, while both have one).
 */
export function interleave(events: readonly EventEnvelope[], picks: readonly boolean[]): EventEnvelope[] {
  const pairing = events.filter((e) => busStreamOf(e) === 'pairing');
  const licensing = events.filter((e) => busStreamOf(e) === 'licensing');
  const merged: EventEnvelope[] = [];
  let p = 0;
  let l = 0;
  for (const pick of picks) {
    if (p < pairing.length && (pick || l >= licensing.length)) merged.push(pairing[p++] as EventEnvelope);
    else if (l < licensing.length) merged.push(licensing[l++] as EventEnvelope);
  }
  return [...merged, ...pairing.slice(p), ...licensing.slice(l)];
}
