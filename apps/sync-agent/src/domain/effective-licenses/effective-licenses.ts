import {
  EFFECTIVE_SET_FIELDS,
  findModel,
  findSku,
  firmwareSupportsStatefulSync,
  isExpiringSoonAt,
  isLicenseUsableAt,
  latestExpiry,
  STATEFUL_SYNC_SKU,
  type EffectiveLicenseSetV1,
  type EffectiveLicenseV1,
  type LicenseSourceV1,
  type LicenseStateV1,
  type StatefulSyncStatusV1,
} from '#shared/contracts';

/** A top-level field of an effective set, as named in an EffectiveLicensesChanged's `changedFields`. */
export type EffectiveSetField = (typeof EFFECTIVE_SET_FIELDS)[number];

/**
 * What a Secondary receives from its Primary, and when the pair may run stateful sync, as one pure function
 * of the facts the sync agent has collected. Time is a parameter: expiry is judged against `now`, never
 * against when an event happened to arrive.
 */

/** The newest known state of a product, as carried by the pairing service's product events. */
export interface ProductFacts {
  readonly serial: string;
  readonly model: string;
  readonly firmwareVersion: string;
  readonly accountId: string;
}

/** The newest known state of a pair; a dissociated pair is kept so that a stale ProductsAssociated cannot revive it. */
export interface PairFacts {
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly status: 'associated' | 'dissociated';
  readonly associatedAt: string;
}

/** The newest known state of one license, exactly as the licensing service publishes it. */
export type LicenseFacts = LicenseStateV1;

/** Facts together with the id of the event that established them: the provenance an effective set names. */
export interface Evidenced<F> {
  readonly facts: F;
  readonly eventId: string;
}

/** The expiry warning window when none is configured, in days. */
export const DEFAULT_WARNING_WINDOW_DAYS = 30;

/** Everything the effective set of one product depends on. */
export interface EffectiveSetInput {
  readonly serial: string;
  /** The product's own facts; null while its registration has not been seen yet. */
  readonly product: ProductFacts | null;
  /** The ACTIVE pair containing `serial` and the event that associated it, or null when the product is standalone. */
  readonly pair: Evidenced<PairFacts> | null;
  /** The other unit of `pair`; null when standalone or not yet seen. */
  readonly peer: ProductFacts | null;
  /**
   * The serials whose licenses this unit holds: its own, unless it was replaced, plus those of the failed units it
   * succeeded (RMA) whose licenses have not been transferred yet. Defaults to `[serial]`.
   */
  readonly heldSerials?: readonly string[];
  /** Licenses held by this unit; licenses of a serial not in `heldSerials` are ignored. */
  readonly ownLicenses: readonly Evidenced<LicenseFacts>[];
  /** The serials whose licenses the peer holds, as `heldSerials`. Defaults to the Primary's serial. */
  readonly peerHeldSerials?: readonly string[];
  /** Licenses held by the peer; ignored unless the peer is this unit's Primary. */
  readonly peerLicenses: readonly Evidenced<LicenseFacts>[];
  readonly now: Date;
  /** An entry expiring within this many days after `now` is flagged `expiringSoon`; default 30. */
  readonly warningWindowDays?: number;
}

/** SKUs that appeared, disappeared, or changed (expiry, expiry warning, trial flag or sources) between two effective sets. */
export interface EffectiveSetDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
}

/** Whether the Primary's license of this SKU reaches the Secondary; unknown SKUs stay where they are. */
export function isShareableSku(sku: string): boolean {
  return findSku(sku)?.shareable ?? false;
}

type Role = EffectiveLicenseSetV1['role'];

/** The effective license set of `input.serial`: own usable licenses, plus the Primary's shareable ones on a Secondary. */
export function computeEffectiveSet(input: EffectiveSetInput): EffectiveLicenseSetV1 {
  const { serial, now } = input;
  const evidencedPair = input.pair !== null && isActivePairOf(input.pair.facts, serial) ? input.pair : null;
  const pair = evidencedPair?.facts ?? null;
  const role = roleIn(pair, serial);

  const own = usableLicensesOf(input.ownLicenses, input.heldSerials ?? [serial], now);
  const contributions: Contribution[] = own.map((license) => ({ from: 'own', license, eventIds: [license.eventId] }));
  let primaryLicenses: readonly Evidenced<LicenseFacts>[] = own;
  if (evidencedPair !== null && pair !== null && role === 'secondary') {
    const seen = new Set(own.map((l) => l.facts.licenseId));
    // One entry per license id: a license the unit itself holds is never counted again as its Primary's.
    primaryLicenses = usableLicensesOf(input.peerLicenses, input.peerHeldSerials ?? [pair.primarySerial], now);
    for (const license of primaryLicenses) {
      if (isShareableSku(license.facts.sku) && !seen.has(license.facts.licenseId))
        contributions.push({ from: 'primary', license, eventIds: [license.eventId, evidencedPair.eventId] });
    }
  }
  const warningWindowDays = input.warningWindowDays ?? DEFAULT_WARNING_WINDOW_DAYS;

  return {
    serial,
    role,
    peerSerial: pair === null ? null : peerSerialIn(pair, serial),
    pairId: pair?.pairId ?? null,
    licenses: groupBySku(contributions, now, warningWindowDays),
    statefulSync: statefulSyncStatus(
      pair,
      input.product,
      input.peer,
      primaryLicenses.map((l) => l.facts),
    ),
  };
}

/** What changed between two effective sets of the same product; `before` null means the product had no set yet. */
export function diffEffectiveSets(before: EffectiveLicenseSetV1 | null, after: EffectiveLicenseSetV1): EffectiveSetDiff {
  const previous = new Map((before?.licenses ?? []).map((l) => [l.sku, l]));
  const next = new Map(after.licenses.map((l) => [l.sku, l]));
  const added = [...next.keys()].filter((sku) => !previous.has(sku));
  const removed = [...previous.keys()].filter((sku) => !next.has(sku));
  const changed = [...next.entries()]
    .filter(([sku, license]) => {
      const old = previous.get(sku);
      return old !== undefined && !sameGrant(old, license);
    })
    .map(([sku]) => sku);
  return {
    added: added.sort(compareCodeUnits),
    removed: removed.sort(compareCodeUnits),
    changed: changed.sort(compareCodeUnits),
  };
}

/**
 * The top-level fields of `after` that differ from `before` (every field when there was no set before): what an
 * EffectiveLicensesChanged names in `changedFields`. Empty exactly when isSameEffectiveSet holds.
 */
export function changedFieldsOf(before: EffectiveLicenseSetV1 | null, after: EffectiveLicenseSetV1): EffectiveSetField[] {
  if (before === null) return [...EFFECTIVE_SET_FIELDS];
  const differs: Record<EffectiveSetField, boolean> = {
    role: before.role !== after.role,
    peerSerial: before.peerSerial !== after.peerSerial,
    pairId: before.pairId !== after.pairId,
    licenses: !sameList(
      before.licenses,
      after.licenses,
      (x, y) => x.sku === y.sku && x.category === y.category && sameGrant(x, y),
    ),
    statefulSync:
      before.statefulSync.enabled !== after.statefulSync.enabled || before.statefulSync.reason !== after.statefulSync.reason,
  };
  return EFFECTIVE_SET_FIELDS.filter((field) => differs[field]);
}

/** Whether two effective sets are identical in every field, so that storing or publishing the second would say nothing new. */
export function isSameEffectiveSet(a: EffectiveLicenseSetV1, b: EffectiveLicenseSetV1): boolean {
  return a.serial === b.serial && changedFieldsOf(a, b).length === 0;
}

/** The pair a caller hands in is trusted only if it really is an active pair of this unit; anything else means standalone. */
function isActivePairOf(pair: PairFacts, serial: string): boolean {
  return pair.status === 'associated' && (pair.primarySerial === serial || pair.secondarySerial === serial);
}

function roleIn(pair: PairFacts | null, serial: string): Role {
  if (pair === null) return 'standalone';
  return pair.primarySerial === serial ? 'primary' : 'secondary';
}

function peerSerialIn(pair: PairFacts, serial: string): string {
  return pair.primarySerial === serial ? pair.secondarySerial : pair.primarySerial;
}

/** The usable licenses among `licenses` held through `serials`, each license id once (the first wins). */
function usableLicensesOf(
  licenses: readonly Evidenced<LicenseFacts>[],
  serials: readonly string[],
  now: Date,
): Evidenced<LicenseFacts>[] {
  const seen = new Set<string>();
  return licenses.filter(({ facts }) => {
    if (!serials.includes(facts.serial) || !isLicenseUsableAt(facts, now) || seen.has(facts.licenseId)) return false;
    seen.add(facts.licenseId);
    return true;
  });
}

/** One license that puts its SKU into the set, whether it is the unit's own or its Primary's, and why it is there. */
interface Contribution {
  readonly from: LicenseSourceV1['from'];
  readonly license: Evidenced<LicenseFacts>;
  readonly eventIds: readonly string[];
}

function groupBySku(contributions: readonly Contribution[], now: Date, warningWindowDays: number): EffectiveLicenseV1[] {
  const bySku = new Map<string, Contribution[]>();
  for (const contribution of contributions) {
    const sku = contribution.license.facts.sku;
    bySku.set(sku, [...(bySku.get(sku) ?? []), contribution]);
  }
  return [...bySku.entries()]
    .sort(([a], [b]) => compareCodeUnits(a, b))
    .map(([sku, group]) => {
      const sources = group.map(sourceOf).sort(compareSources);
      // A perpetual source makes the SKU perpetual; otherwise it lasts as long as its longest-lived source.
      const expiresAt = latestExpiry(sources.map((source) => source.expiresAt));
      return {
        sku,
        category: findSku(sku)?.category ?? 'unknown',
        // A paid license of the same SKU makes the feature paid, whichever source is listed first.
        trial: group.every(({ license }) => license.facts.trial),
        expiresAt,
        expiringSoon: isExpiringSoonAt(expiresAt, now, warningWindowDays),
        sources,
      };
    });
}

function sourceOf({ from, license: { facts }, eventIds }: Contribution): LicenseSourceV1 {
  return { from, serial: facts.serial, licenseId: facts.licenseId, expiresAt: facts.expiresAt, eventIds: [...eventIds] };
}

function compareSources(a: LicenseSourceV1, b: LicenseSourceV1): number {
  if (a.from !== b.from) return a.from === 'own' ? -1 : 1;
  return compareCodeUnits(a.licenseId, b.licenseId);
}

/**
 * Both units report the same status, judged on the Primary's licenses only: STATEFUL_SYNC is licensed on the
 * Primary for the pair, so a Secondary's own STATEFUL_SYNC license enables nothing.
 */
function statefulSyncStatus(
  pair: PairFacts | null,
  product: ProductFacts | null,
  peer: ProductFacts | null,
  primaryLicenses: readonly LicenseFacts[],
): StatefulSyncStatusV1 {
  if (pair === null) return disabled('NOT_PAIRED');
  // Missing facts count as an unknown model: the feature is never enabled on a guess.
  if (product === null || peer === null) return disabled('MODEL_UNSUPPORTED');
  if (![product, peer].every((p) => findModel(p.model)?.statefulSync === true)) return disabled('MODEL_UNSUPPORTED');
  if (!primaryLicenses.some((l) => l.sku === STATEFUL_SYNC_SKU)) return disabled('NOT_LICENSED');
  if (![product, peer].every((p) => firmwareSupportsStatefulSync(p.firmwareVersion))) return disabled('FIRMWARE_TOO_OLD');
  return { enabled: true, reason: null };
}

function disabled(reason: NonNullable<StatefulSyncStatusV1['reason']>): StatefulSyncStatusV1 {
  return { enabled: false, reason };
}

function sameGrant(a: EffectiveLicenseV1, b: EffectiveLicenseV1): boolean {
  return (
    a.expiresAt === b.expiresAt &&
    a.trial === b.trial &&
    a.expiringSoon === b.expiringSoon &&
    sameList(
      a.sources,
      b.sources,
      (x, y) =>
        x.from === y.from &&
        x.serial === y.serial &&
        x.licenseId === y.licenseId &&
        x.expiresAt === y.expiresAt &&
        sameList(x.eventIds, y.eventIds, (i, j) => i === j),
    )
  );
}

function sameList<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  return a.length === b.length && a.every((x, i) => i < b.length && same(x, b[i] as T));
}

/** Locale-independent ordering, so that the set is byte-identical wherever it is computed (and in SQL with COLLATE "C"). */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
