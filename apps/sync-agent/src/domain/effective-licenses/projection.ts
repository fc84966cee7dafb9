import { assertNever, type EffectiveLicenseSetV1, type EventEnvelope } from '#shared/contracts';
import { computeEffectiveSet, type LicenseFacts, type PairFacts, type ProductFacts } from './effective-licenses.js';

/**
 * The sync agent's projection as an in-memory pure model. The SQL implementation in the application layer
 * mirrors it and is tested against it. Events arrive in any order and possibly more than once; because every
 * event carries its aggregate's full state, keeping only the newest version of each entity makes the result
 * independent of arrival order.
 *
 * Assumption: all events about one product, pair or license come from a single stream, so their
 * `streamVersion`s are comparable.
 */

/** An entity's newest known facts and the stream version they came from. */
export interface Versioned<F> {
  readonly version: number;
  readonly facts: F;
}

/** Newest known products (by serial), pairs (by pairId) and licenses (by licenseId). */
export interface ProjectionState {
  readonly products: ReadonlyMap<string, Versioned<ProductFacts>>;
  readonly pairs: ReadonlyMap<string, Versioned<PairFacts>>;
  readonly licenses: ReadonlyMap<string, Versioned<LicenseFacts>>;
}

/** The projection before any event. */
export function emptyProjection(): ProjectionState {
  return { products: new Map(), pairs: new Map(), licenses: new Map() };
}

/**
 * Folds one event into the projection, returning a new state (the given one is not modified). An event whose
 * `streamVersion` is not newer than the stored one for its entity is stale or a duplicate, and changes nothing.
 */
export function applyEvent(state: ProjectionState, envelope: EventEnvelope): ProjectionState {
  const version = envelope.streamVersion;
  switch (envelope.type) {
    case 'ProductRegistered':
    case 'ProductFirmwareChanged': {
      const { serial, model, firmwareVersion, accountId } = envelope.data;
      const products = keepNewest(state.products, serial, version, { serial, model, firmwareVersion, accountId });
      return products === state.products ? state : { ...state, products };
    }
    case 'ProductsAssociated':
    case 'ProductsDissociated': {
      const { pairId, primarySerial, secondarySerial, associatedAt } = envelope.data;
      const status: PairFacts['status'] = envelope.type === 'ProductsAssociated' ? 'associated' : 'dissociated';
      const pairs = keepNewest(state.pairs, pairId, version, { pairId, primarySerial, secondarySerial, status, associatedAt });
      return pairs === state.pairs ? state : { ...state, pairs };
    }
    case 'EntitlementChanged': {
      const license = envelope.data.license;
      const licenses = keepNewest(state.licenses, license.licenseId, version, license);
      return licenses === state.licenses ? state : { ...state, licenses };
    }
    case 'EffectiveLicensesChanged':
      // Our own output: consuming it would feed the projection its own conclusions.
      return state;
    default:
      return assertNever(envelope, 'event');
  }
}

/**
 * The pair `serial` is in right now, or null. Out-of-order delivery can leave a superseded association looking
 * active until its dissociation arrives; a product is in at most one pair at a time, so the latest association
 * wins (ties broken by the greater pairId, only to stay deterministic).
 */
export function activePairOf(state: ProjectionState, serial: string): PairFacts | null {
  let active: PairFacts | null = null;
  for (const pair of associatedPairsOf(state, serial)) {
    if (active === null || isLaterAssociation(pair, active)) active = pair;
  }
  return active;
}

/** The effective set of `serial` as of `now`, or null while the product itself is unknown. */
export function effectiveSetOf(state: ProjectionState, serial: string, now: Date): EffectiveLicenseSetV1 | null {
  const product = state.products.get(serial)?.facts ?? null;
  if (product === null) return null;
  const pair = activePairOf(state, serial);
  const peerSerial = pair === null ? null : pair.primarySerial === serial ? pair.secondarySerial : pair.primarySerial;
  return computeEffectiveSet({
    serial,
    product,
    pair,
    peer: peerSerial === null ? null : (state.products.get(peerSerial)?.facts ?? null),
    ownLicenses: licensesOf(state, serial),
    peerLicenses: peerSerial === null ? [] : licensesOf(state, peerSerial),
    now,
  });
}

/**
 * The serials whose effective set may change because of `envelope`, sorted: the serials the event names, plus
 * every serial sharing an associated pair with one of them. That is wider than "the peer in its active pair" on
 * purpose: while a superseded association still looks active, its other member sees the named serial as its
 * peer even though the named serial's own active pair is a newer one. The answer is the same whether `state` is
 * taken before or after applying `envelope`, since the pairs it reads are only those of the named serials.
 */
export function affectedSerials(state: ProjectionState, envelope: EventEnvelope): string[] {
  const named = namedSerials(envelope);
  const affected = new Set(named);
  for (const serial of named) {
    for (const pair of associatedPairsOf(state, serial)) {
      affected.add(pair.primarySerial);
      affected.add(pair.secondarySerial);
    }
  }
  return [...affected].sort();
}

/** The serials an event names directly (before following pairs). */
export function namedSerials(envelope: EventEnvelope): string[] {
  switch (envelope.type) {
    case 'ProductRegistered':
    case 'ProductFirmwareChanged':
      return [envelope.data.serial];
    case 'ProductsAssociated':
    case 'ProductsDissociated':
      return [envelope.data.primarySerial, envelope.data.secondarySerial];
    case 'EntitlementChanged':
      // A license never moves between serials, so its current serial is the only one whose licenses change.
      return [envelope.data.license.serial];
    case 'EffectiveLicensesChanged':
      return [];
    default:
      return assertNever(envelope, 'event');
  }
}

function keepNewest<F>(
  entities: ReadonlyMap<string, Versioned<F>>,
  id: string,
  version: number,
  facts: F,
): ReadonlyMap<string, Versioned<F>> {
  const stored = entities.get(id);
  if (stored !== undefined && version <= stored.version) return entities;
  return new Map(entities).set(id, { version, facts });
}

function associatedPairsOf(state: ProjectionState, serial: string): PairFacts[] {
  return [...state.pairs.values()]
    .map((p) => p.facts)
    .filter((p) => p.status === 'associated' && (p.primarySerial === serial || p.secondarySerial === serial));
}

function isLaterAssociation(a: PairFacts, b: PairFacts): boolean {
  const delta = Date.parse(a.associatedAt) - Date.parse(b.associatedAt);
  return delta !== 0 ? delta > 0 : a.pairId > b.pairId;
}

function licensesOf(state: ProjectionState, serial: string): LicenseFacts[] {
  return [...state.licenses.values()].map((l) => l.facts).filter((l) => l.serial === serial);
}
