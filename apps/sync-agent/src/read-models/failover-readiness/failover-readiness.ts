import {
  BASE_OS_SKUS,
  isBaseOsSku,
  latestExpiry,
  type EffectiveLicenseSetV1,
  type StatefulSyncStatusV1,
} from '#shared/contracts';
import { isShareableSku, type PairFacts } from '../../domain/effective-licenses/effective-licenses.js';
import { activePairOf, setsAt, type ProjectionState } from '../../domain/effective-licenses/projection.js';

/**
 * Failover readiness of a pair, as pure rules: the pair is ready when the Secondary's effective set holds a
 * usable base OS license (so that it is licensed to take over at all), covers every shareable license the Primary
 * may use (at the same or a later expiry), and the sync agent has applied
 * every pairing and licensing event: none waits in its consumers, and it has applied the newest event each
 * producer had committed when asked (which also covers events JetStream acknowledged and then lost). Each
 * shortfall is a gap; blocking gaps make the pair not ready, warnings only inform. Time, the consumers' backlog
 * and the producers' answers are parameters.
 */

export type GapSeverity = 'blocking' | 'warning';

/** Every gap code and whether it blocks a failover. */
export const GAP_SEVERITY = {
  /** The pair was dissociated, or a later association of one of its units superseded it. */
  PAIR_NOT_ACTIVE: 'blocking',
  /** The sync agent has not seen the Primary's registration. */
  PRIMARY_UNKNOWN: 'blocking',
  /** The sync agent has not seen the Secondary's registration. */
  SECONDARY_UNKNOWN: 'blocking',
  /**
   * The Secondary's effective set holds no usable base OS license, neither shared from the Primary nor its own: it
   * is not licensed to take over (for example once the Primary's base OS license was revoked or expired).
   */
  NO_BASE_LICENSE: 'blocking',
  /** A shareable license the Primary may use is missing from the Secondary's set, or expires earlier there. */
  MISSING_LICENSE: 'blocking',
  /** A durable consumer of the sync agent has events it has not applied (or its state could not be read). */
  PROJECTION_LAG: 'blocking',
  /** A producer has committed an event the sync agent has not applied (not yet delivered, or lost on the way). */
  UNAPPLIED_EVENTS: 'blocking',
  /** A producer gave no signed answer about its newest event, so what it committed is not known. */
  PRODUCER_UNREACHABLE: 'blocking',
  /** A license the Secondary receives from the Primary expires within the warning window. */
  EXPIRING_SOON: 'warning',
} as const satisfies Record<string, GapSeverity>;

export type GapCode = keyof typeof GAP_SEVERITY;

/** One reason why a pair is not (or will soon not be) ready for a failover. */
export interface ReadinessGap {
  readonly code: GapCode;
  readonly severity: GapSeverity;
  readonly sku?: string;
  readonly detail: string;
}

/** How far one durable consumer of the sync agent is behind its stream, or why that could not be read. */
export type ConsumerLag =
  | { readonly stream: string; readonly pending: number; readonly ackPending: number }
  | { readonly stream: string; readonly error: string };

/** Whether the sync agent has applied the newest event a producer had committed, or why that is not known. */
export type ProducerCatchUp =
  | { readonly source: string; readonly newestEventId: string | null; readonly applied: boolean }
  | { readonly source: string; readonly error: string };

/** What the readiness rules judge. */
export interface ReadinessFacts {
  readonly pair: PairFacts;
  /** The pairId of a later active pair of either unit, when one superseded `pair` (out-of-order delivery). */
  readonly supersededBy: string | null;
  /** The Primary's and the Secondary's effective sets now; null while the product is unknown. */
  readonly primarySet: EffectiveLicenseSetV1 | null;
  readonly secondarySet: EffectiveLicenseSetV1 | null;
  readonly lag: readonly ConsumerLag[];
  readonly producers: readonly ProducerCatchUp[];
  readonly warningWindowDays: number;
}

/** The gaps of a pair, in a stable order: pair, products, base OS license, licenses (by SKU), projection lag, warnings (by SKU). */
export function readinessGaps(facts: ReadinessFacts): ReadinessGap[] {
  const { pair, primarySet, secondarySet } = facts;
  const gaps: ReadinessGap[] = [];
  const active = pair.status === 'associated' && facts.supersededBy === null;
  if (pair.status !== 'associated')
    gaps.push(
      gap('PAIR_NOT_ACTIVE', `Pair ${pair.pairId} was dissociated; the Secondary no longer receives the Primary's licenses.`),
    );
  else if (facts.supersededBy !== null)
    gaps.push(gap('PAIR_NOT_ACTIVE', `Pair ${pair.pairId} was superseded by pair ${facts.supersededBy}.`));
  if (primarySet === null)
    gaps.push(gap('PRIMARY_UNKNOWN', `The sync agent has not seen the registration of the Primary ${pair.primarySerial}.`));
  if (secondarySet === null)
    gaps.push(gap('SECONDARY_UNKNOWN', `The sync agent has not seen the registration of the Secondary ${pair.secondarySerial}.`));

  // Only an active pair with both units known can share licenses; otherwise the gaps above are the cause.
  const sharing = active && primarySet !== null && secondarySet !== null;
  if (sharing) gaps.push(...noBaseLicense(secondarySet), ...missingLicenses(primarySet, secondarySet));
  gaps.push(...facts.lag.flatMap(lagGap));
  gaps.push(...facts.producers.flatMap(producerGap));
  if (sharing) gaps.push(...expiringSoon(secondarySet, facts.warningWindowDays));
  return gaps;
}

/** Ready when no gap blocks. */
export function isReady(gaps: readonly ReadinessGap[]): boolean {
  return gaps.every((g) => g.severity !== 'blocking');
}

/** The readiness report of one pair. */
export interface FailoverReadinessReport {
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly ready: boolean;
  readonly checkedAt: string;
  /** The pair's stateful synchronization as its units report it (NOT_PAIRED once the pair is not active). */
  readonly statefulSync: StatefulSyncStatusV1;
  readonly gaps: readonly ReadinessGap[];
}

/** What a readiness check needs besides the projection: the instant, the backlog, the producers' answers, the window. */
export interface ReadinessContext {
  readonly now: Date;
  readonly lag: readonly ConsumerLag[];
  readonly producers: readonly ProducerCatchUp[];
  readonly warningWindowDays: number;
}

/** The readiness of pair `pairId` judged on the projected facts, or null when the sync agent knows no such pair. */
export function assessFailoverReadiness(
  state: ProjectionState,
  pairId: string,
  context: ReadinessContext,
): FailoverReadinessReport | null {
  const pair = state.pairs.get(pairId)?.facts;
  if (pair === undefined) return null;
  const { now, warningWindowDays } = context;
  const sets = setsAt(state, now, { warningWindowDays });
  const primarySet = sets.effectiveSetOf(pair.primarySerial);
  const secondarySet = sets.effectiveSetOf(pair.secondarySerial);
  const supersededBy =
    pair.status !== 'associated'
      ? null
      : ([activePairOf(state, pair.primarySerial), activePairOf(state, pair.secondarySerial)].find(
          (p) => p !== null && p.pairId !== pairId,
        )?.pairId ?? null);
  const { lag, producers } = context;
  const gaps = readinessGaps({ pair, supersededBy, primarySet, secondarySet, lag, producers, warningWindowDays });
  return {
    pairId,
    primarySerial: pair.primarySerial,
    secondarySerial: pair.secondarySerial,
    ready: isReady(gaps),
    checkedAt: now.toISOString(),
    statefulSync: sets.pairStatefulSyncOf(pairId),
    gaps,
  };
}

function gap(code: GapCode, detail: string, sku?: string): ReadinessGap {
  return { code, severity: GAP_SEVERITY[code], ...(sku === undefined ? {} : { sku }), detail };
}

/**
 * "When the Primary fails, the Secondary must already be licensed": without a usable base OS license in its effective
 * set (the Primary's, shared, or its own) the Secondary cannot take over, whatever else it holds. Revoking the
 * Primary's base OS license removes it from both units at once, so this is the gap that shows it.
 */
function noBaseLicense(secondarySet: EffectiveLicenseSetV1): ReadinessGap[] {
  if (secondarySet.licenses.some((l) => isBaseOsSku(l.sku))) return [];
  return [
    gap(
      'NO_BASE_LICENSE',
      `The Secondary ${secondarySet.serial} has no usable base OS license (${BASE_OS_SKUS.join(' or ')}), neither from the Primary nor its own: it is not licensed to take over.`,
    ),
  ];
}

/**
 * Each shareable SKU of the Primary's set must be in the Secondary's set until at least the Primary's latest
 * expiry of it (perpetual only by perpetual).
 */
function missingLicenses(primarySet: EffectiveLicenseSetV1, secondarySet: EffectiveLicenseSetV1): ReadinessGap[] {
  const gaps: ReadinessGap[] = [];
  for (const required of primarySet.licenses) {
    if (!isShareableSku(required.sku)) continue;
    const own = required.sources.filter((s) => s.from === 'own');
    if (own.length === 0) continue;
    const needed = latestExpiry(own.map((s) => s.expiresAt));
    const until = needed === null ? 'perpetual' : `until ${needed}`;
    const held = secondarySet.licenses.find((l) => l.sku === required.sku);
    if (held === undefined) {
      gaps.push(
        gap(
          'MISSING_LICENSE',
          `${required.sku} of the Primary (${until}) is not in the Secondary's effective set.`,
          required.sku,
        ),
      );
    } else if (!lastsAsLong(held.expiresAt, needed)) {
      gaps.push(
        gap(
          'MISSING_LICENSE',
          `${required.sku} of the Primary (${until}) reaches the Secondary only until ${held.expiresAt ?? 'never'}.`,
          required.sku,
        ),
      );
    }
  }
  return gaps;
}

function lagGap(lag: ConsumerLag): ReadinessGap[] {
  if ('error' in lag)
    return [gap('PROJECTION_LAG', `Could not read how far the sync agent is behind ${lag.stream}: ${lag.error}.`)];
  const behind = lag.pending + lag.ackPending;
  if (behind === 0) return [];
  return [
    gap(
      'PROJECTION_LAG',
      `The sync agent has ${behind} event(s) of ${lag.stream} not yet applied (${lag.pending} waiting, ${lag.ackPending} in progress).`,
    ),
  ];
}

function producerGap(producer: ProducerCatchUp): ReadinessGap[] {
  if ('error' in producer)
    return [gap('PRODUCER_UNREACHABLE', `Could not ask ${producer.source} which event it committed last: ${producer.error}.`)];
  if (producer.applied || producer.newestEventId === null) return [];
  return [
    gap(
      'UNAPPLIED_EVENTS',
      `${producer.source} has committed events the sync agent has not applied yet (the newest: ${producer.newestEventId}).`,
    ),
  ];
}

/** The SKUs the Secondary receives from its Primary whose expiry is within the warning window. */
function expiringSoon(secondarySet: EffectiveLicenseSetV1, windowDays: number): ReadinessGap[] {
  return secondarySet.licenses
    .filter((l) => l.expiringSoon && l.expiresAt !== null && l.sources.some((s) => s.from === 'primary'))
    .map((l) => gap('EXPIRING_SOON', `${l.sku} expires at ${l.expiresAt} (within the ${windowDays}-day warning window).`, l.sku));
}

function lastsAsLong(held: string | null, needed: string | null): boolean {
  if (held === null) return true;
  if (needed === null) return false;
  return Date.parse(held) >= Date.parse(needed);
}
