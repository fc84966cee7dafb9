import {
  assertNever,
  type EffectiveLicenseSetV1,
  type EventEnvelope,
  type PairReplacementV1,
  type StatefulSyncStatusV1,
} from '#shared/contracts';
import {
  computeEffectiveSet,
  type EffectiveSetInput,
  type Evidenced,
  type LicenseFacts,
  type PairFacts,
  type ProductFacts,
} from './effective-licenses.js';

/**
 * The sync agent's projection as pure functions: the only implementation of its rules. The projector
 * (read-models/effective-licenses) loads the part of it a batch can touch from PostgreSQL (facts/), runs these
 * functions in memory and saves what changed; its SQL re-implements no rule (docs/decisions.md §8), so the property tests
 * here cover the service. Events arrive in any order and possibly more than once; because every event carries
 * its aggregate's full state, keeping only the newest version of each entity makes the result independent of
 * arrival order. Replacements (RMA) are a grow-only set, so they commute too.
 *
 * Assumption: all events about one product, pair or license come from a single stream, so their
 * `streamVersion`s are comparable.
 */

/** An entity's newest known facts, the stream version they came from and the id of the event that carried them. */
export interface Versioned<F> extends Evidenced<F> {
  readonly version: number;
}

/**
 * A replacement (RMA) as the sync agent keeps it: from `since` (the new pair's association), the licenses still
 * held by `failedSerial` belong to `successorSerial` until licensing transfers them. `eventId` is the new pair's
 * association, which recorded it.
 */
export interface Succession {
  readonly failedSerial: string;
  readonly successorSerial: string;
  /** The pair formed by the replacement. */
  readonly pairId: string;
  /** The pair the failed unit was in. */
  readonly replacedPairId: string;
  readonly since: string;
  readonly eventId: string;
}

/**
 * Newest known products (by serial), pairs (by pairId) and licenses (by licenseId), and every replacement seen,
 * by failed serial (oldest first; a unit repaired and failing again has several).
 */
export interface ProjectionFacts {
  readonly products: ReadonlyMap<string, Versioned<ProductFacts>>;
  readonly pairs: ReadonlyMap<string, Versioned<PairFacts>>;
  readonly licenses: ReadonlyMap<string, Versioned<LicenseFacts>>;
  readonly successors: ReadonlyMap<string, readonly Succession[]>;
}

/**
 * The facts and two indexes derived from them, kept in step by every fold, so that reading one serial's pairs
 * and licenses costs what that serial has rather than a scan of everything loaded.
 */
export interface ProjectionState extends ProjectionFacts {
  /** The ids of every pair (any status) each serial is a member of. */
  readonly pairIdsBySerial: ReadonlyMap<string, ReadonlySet<string>>;
  /** The ids of the licenses stored on each serial. */
  readonly licenseIdsBySerial: ReadonlyMap<string, ReadonlySet<string>>;
}

/** One event of a folded batch: whether it changed anything and, if so, the serials it affected (before and after it). */
export interface FoldedEvent {
  readonly event: EventEnvelope;
  readonly applied: boolean;
  readonly affected: readonly string[];
}

/** A projection being folded: the same shape with mutable maps, private to the fold that copied it. */
interface Draft {
  readonly products: Map<string, Versioned<ProductFacts>>;
  readonly pairs: Map<string, Versioned<PairFacts>>;
  readonly licenses: Map<string, Versioned<LicenseFacts>>;
  readonly successors: Map<string, readonly Succession[]>;
  readonly pairIdsBySerial: Map<string, Set<string>>;
  readonly licenseIdsBySerial: Map<string, Set<string>>;
}

/** Options of the effective set: the expiry warning window (default 30 days). */
export interface EffectiveSetOptions {
  readonly warningWindowDays?: number;
}

/** The projection before any event. */
export function emptyProjection(): ProjectionState {
  return projectionOf({ products: new Map(), pairs: new Map(), licenses: new Map(), successors: new Map() });
}

/** A projection of the given facts, with its indexes built. */
export function projectionOf(facts: ProjectionFacts): ProjectionState {
  const pairIdsBySerial = new Map<string, Set<string>>();
  for (const { facts: pair } of facts.pairs.values()) indexPair(pairIdsBySerial, pair);
  const licenseIdsBySerial = new Map<string, Set<string>>();
  for (const { facts: license } of facts.licenses.values()) addToIndex(licenseIdsBySerial, license.serial, license.licenseId);
  return { ...facts, pairIdsBySerial, licenseIdsBySerial };
}

/**
 * Folds one event into the projection, returning a new state (the given one is not modified). An event whose
 * `streamVersion` is not newer than the stored one for its entity is stale or a duplicate, and changes nothing
 * (the given state is returned), except that a replacement it records is kept whatever its version (the pair's
 * dissociation may have overtaken its association, and the successor mapping must survive that).
 */
export function applyEvent(state: ProjectionState, envelope: EventEnvelope): ProjectionState {
  const draft = draftOf(state);
  return applyInto(draft, envelope) ? draft : state;
}

/**
 * Folds a batch of events, in order: the same state as applying them one by one with `applyEvent`, but the
 * given state is copied once rather than once per event. Says for each event whether it changed anything and
 * which serials' effective sets it may have changed (`affectedSerials` judged before and after it).
 */
export function applyEvents(
  state: ProjectionState,
  events: readonly EventEnvelope[],
): { state: ProjectionState; folded: FoldedEvent[] } {
  const draft = draftOf(state);
  const folded = events.map((event): FoldedEvent => {
    const before = affectedSerials(draft, event);
    if (!applyInto(draft, event)) return { event, applied: false, affected: [] };
    return { event, applied: true, affected: uniqueSorted([...before, ...affectedSerials(draft, event)]) };
  });
  return { state: draft, folded };
}

/** Applies one event to a draft in place; false when it changed nothing. */
function applyInto(draft: Draft, envelope: EventEnvelope): boolean {
  const { streamVersion: version, eventId } = envelope;
  switch (envelope.type) {
    case 'ProductRegistered':
    case 'ProductFirmwareChanged': {
      const { serial, model, firmwareVersion, accountId } = envelope.data;
      return keepNewest(draft.products, serial, { version, eventId, facts: { serial, model, firmwareVersion, accountId } });
    }
    case 'ProductsAssociated':
    case 'ProductsDissociated': {
      const { pairId, primarySerial, secondarySerial, associatedAt, replaces } = envelope.data;
      const status: PairFacts['status'] = envelope.type === 'ProductsAssociated' ? 'associated' : 'dissociated';
      const facts = { pairId, primarySerial, secondarySerial, status, associatedAt };
      const stored = draft.pairs.get(pairId)?.facts;
      const pairChanged = keepNewest(draft.pairs, pairId, { version, eventId, facts });
      if (pairChanged) {
        if (stored) unindexPair(draft.pairIdsBySerial, stored);
        indexPair(draft.pairIdsBySerial, facts);
      }
      const successionAdded =
        envelope.type === 'ProductsAssociated' && replaces
          ? addSuccession(draft.successors, successionOf(replaces, pairId, associatedAt, eventId))
          : false;
      return pairChanged || successionAdded;
    }
    case 'EntitlementChanged':
    case 'EntitlementExpiringSoon': {
      // The warning is a license event like any other: same stream, full state, newest version wins.
      const license = envelope.data.license;
      const stored = draft.licenses.get(license.licenseId)?.facts;
      if (!keepNewest(draft.licenses, license.licenseId, { version, eventId, facts: license })) return false;
      if (stored) removeFromIndex(draft.licenseIdsBySerial, stored.serial, license.licenseId);
      addToIndex(draft.licenseIdsBySerial, license.serial, license.licenseId);
      return true;
    }
    case 'EffectiveLicensesChanged':
    case 'StatefulSyncChanged':
      // Our own output: consuming it would feed the projection its own conclusions.
      return false;
    default:
      return assertNever(envelope, 'event');
  }
}

/** A private, mutable copy of a projection (index sets copied too: the given state stays as it was). */
function draftOf(state: ProjectionState): Draft {
  const copyIndex = (index: ReadonlyMap<string, ReadonlySet<string>>) =>
    new Map([...index].map(([serial, ids]) => [serial, new Set(ids)]));
  return {
    products: new Map(state.products),
    pairs: new Map(state.pairs),
    licenses: new Map(state.licenses),
    successors: new Map(state.successors),
    pairIdsBySerial: copyIndex(state.pairIdsBySerial),
    licenseIdsBySerial: copyIndex(state.licenseIdsBySerial),
  };
}

function addToIndex(index: Map<string, Set<string>>, serial: string, id: string): void {
  const ids = index.get(serial);
  if (ids) ids.add(id);
  else index.set(serial, new Set([id]));
}

/** Removes an id, and the serial once it has none left, so that equal facts always have equal indexes. */
function removeFromIndex(index: Map<string, Set<string>>, serial: string, id: string): void {
  const ids = index.get(serial);
  if (ids?.delete(id) && ids.size === 0) index.delete(serial);
}

function indexPair(index: Map<string, Set<string>>, pair: PairFacts): void {
  addToIndex(index, pair.primarySerial, pair.pairId);
  addToIndex(index, pair.secondarySerial, pair.pairId);
}

function unindexPair(index: Map<string, Set<string>>, pair: PairFacts): void {
  removeFromIndex(index, pair.primarySerial, pair.pairId);
  removeFromIndex(index, pair.secondarySerial, pair.pairId);
}

/**
 * The pair `serial` is in right now, or null. Out-of-order delivery can leave a superseded pair looking active
 * until its dissociation arrives; a product is in at most one pair at a time, so the pair associated last
 * wins (ties broken by the greater pairId, only to stay deterministic).
 */
export function activePairOf(state: ProjectionState, serial: string): PairFacts | null {
  let active: PairFacts | null = null;
  for (const pair of associatedPairsOf(state, serial)) {
    if (active === null || isAssociatedLater(pair, active)) active = pair;
  }
  return active;
}

/**
 * The unit that holds the licenses still recorded on `serial`: `serial` itself, or, after it failed and was
 * replaced, its successor (following further replacements). A replacement stops counting once the failed unit
 * is seen associated again after it (it was repaired and is back in service).
 */
export function holderOf(state: ProjectionState, serial: string): string {
  const visited = new Set([serial]);
  let holder = serial;
  for (;;) {
    const succession = successionInEffect(state, holder);
    if (succession === null || visited.has(succession.successorSerial)) return holder;
    holder = succession.successorSerial;
    visited.add(holder);
  }
}

/**
 * The serials whose licenses `serial` holds, sorted: its own (unless it was replaced) and those of every failed
 * unit it succeeded, directly or through a chain of replacements.
 */
export function heldSerialsOf(state: ProjectionState, serial: string): string[] {
  const held = [serial, ...state.successors.keys()].filter((s) => holderOf(state, s) === serial);
  return [...new Set(held)].sort();
}

/** What is asked of one state at one instant: effective sets and pairs' stateful synchronization (setsAt). */
export interface SetsAt {
  /** The effective set of `serial`, or null while the product itself is unknown. */
  effectiveSetOf(serial: string): EffectiveLicenseSetV1 | null;
  /**
   * The stateful synchronization of a pair as its two units report it (its Primary's set says it). A pair that is no
   * longer the active pair of both its units (dissociated, or superseded by a pair associated later) is NOT_PAIRED.
   */
  pairStatefulSyncOf(pairId: string): StatefulSyncStatusV1;
}

/**
 * The sets of `state` as of `now`, each product's computed once however often it is asked for: a batch's
 * publication asks for a Primary's set and for its pair's stateful synchronization, which that set decides.
 */
export function setsAt(state: ProjectionState, now: Date, options: EffectiveSetOptions = {}): SetsAt {
  const computed = new Map<string, EffectiveLicenseSetV1>();
  const setOf = (serial: string) => {
    let set = computed.get(serial);
    if (set === undefined) {
      set = computeEffectiveSet(effectiveSetInputOf(state, serial, now, options));
      computed.set(serial, set);
    }
    return set;
  };
  return {
    effectiveSetOf: (serial) => (state.products.has(serial) ? setOf(serial) : null),
    pairStatefulSyncOf: (pairId) => {
      const pair = state.pairs.get(pairId)?.facts;
      const isActive =
        pair !== undefined &&
        activePairOf(state, pair.primarySerial)?.pairId === pairId &&
        activePairOf(state, pair.secondarySerial)?.pairId === pairId;
      return isActive ? setOf(pair.primarySerial).statefulSync : { enabled: false, reason: 'NOT_PAIRED' };
    },
  };
}

/** The effective set of `serial` as of `now`, or null while the product itself is unknown. */
export function effectiveSetOf(
  state: ProjectionState,
  serial: string,
  now: Date,
  options: EffectiveSetOptions = {},
): EffectiveLicenseSetV1 | null {
  return setsAt(state, now, options).effectiveSetOf(serial);
}

/** The stateful synchronization of pair `pairId` as of `now` (SetsAt.pairStatefulSyncOf). */
export function pairStatefulSyncOf(
  state: ProjectionState,
  pairId: string,
  now: Date,
  options: EffectiveSetOptions = {},
): StatefulSyncStatusV1 {
  return setsAt(state, now, options).pairStatefulSyncOf(pairId);
}

/**
 * The serials whose effective set may change because of `envelope`, sorted, judged on the state BEFORE the
 * event is applied (the stored license tells where a moved license was): the serials the event names and the
 * license's stored serial, every unit they pass their licenses on to through replacements, and every serial
 * sharing an associated pair with one of those. That is wider than "the peer in its active pair" on purpose:
 * while a superseded pair still looks active, its other member sees the named serial as its peer even
 * though the named serial's own active pair is a newer one.
 */
export function affectedSerials(state: ProjectionState, envelope: EventEnvelope): string[] {
  const named = [...namedSerials(envelope), ...storedSerialsOf(state, envelope)];
  const reached = successorClosure(state, named);
  const affected = new Set(reached);
  for (const serial of reached) {
    for (const pair of associatedPairsOf(state, serial)) {
      affected.add(pair.primarySerial);
      affected.add(pair.secondarySerial);
    }
  }
  return [...affected].sort();
}

/**
 * The serials an event names directly (before following pairs), sorted: a product's serial, both members of a
 * pair and the failed and successor units of a replacement, a license's serial and the serial it was
 * transferred from.
 */
export function namedSerials(envelope: EventEnvelope): string[] {
  switch (envelope.type) {
    case 'ProductRegistered':
    case 'ProductFirmwareChanged':
      return [envelope.data.serial];
    case 'ProductsAssociated':
    case 'ProductsDissociated': {
      const { primarySerial, secondarySerial, replaces } = envelope.data;
      const serials = [primarySerial, secondarySerial];
      if (replaces) serials.push(replaces.failedSerial, replaces.replacementSerial, replaces.successorSerial);
      return uniqueSorted(serials);
    }
    case 'EntitlementChanged': {
      const { license, transferredFrom } = envelope.data;
      return uniqueSorted(transferredFrom === undefined ? [license.serial] : [license.serial, transferredFrom]);
    }
    case 'EntitlementExpiringSoon':
      return [envelope.data.license.serial];
    case 'EffectiveLicensesChanged':
    case 'StatefulSyncChanged':
      return [];
    default:
      return assertNever(envelope, 'event');
  }
}

/**
 * The serials `state` knows an event's entity by that the event itself does not name: for a license event, the
 * serial of the stored license (where a transferred license was before, even if intermediate transfers were
 * never seen).
 */
export function storedSerialsOf(state: ProjectionState, envelope: EventEnvelope): string[] {
  if (envelope.type !== 'EntitlementChanged' && envelope.type !== 'EntitlementExpiringSoon') return [];
  const stored = state.licenses.get(envelope.data.license.licenseId)?.facts.serial;
  return stored === undefined || stored === envelope.data.license.serial ? [] : [stored];
}

/** The license ids an event carries (a stored license must be loaded to judge its version and former serial). */
export function namedLicenseIds(envelope: EventEnvelope): string[] {
  return envelope.type === 'EntitlementChanged' || envelope.type === 'EntitlementExpiringSoon'
    ? [envelope.data.license.licenseId]
    : [];
}

function effectiveSetInputOf(state: ProjectionState, serial: string, now: Date, options: EffectiveSetOptions): EffectiveSetInput {
  const pair = activePairOf(state, serial);
  const pairEvent = pair === null ? undefined : state.pairs.get(pair.pairId);
  const peerSerial = pair === null ? null : pair.primarySerial === serial ? pair.secondarySerial : pair.primarySerial;
  const heldSerials = heldSerialsOf(state, serial);
  const peerHeldSerials = peerSerial === null ? [] : heldSerialsOf(state, peerSerial);
  return {
    serial,
    product: state.products.get(serial)?.facts ?? null,
    pair: pair === null || pairEvent === undefined ? null : { facts: pair, eventId: pairEvent.eventId },
    peer: peerSerial === null ? null : (state.products.get(peerSerial)?.facts ?? null),
    heldSerials,
    ownLicenses: licensesOf(state, heldSerials),
    peerHeldSerials,
    peerLicenses: licensesOf(state, peerHeldSerials),
    now,
    ...(options.warningWindowDays === undefined ? {} : { warningWindowDays: options.warningWindowDays }),
  };
}

/** Stores `candidate` unless the stored version is as new or newer; true when it was stored. */
function keepNewest<F>(entities: Map<string, Versioned<F>>, id: string, candidate: Versioned<F>): boolean {
  const stored = entities.get(id);
  if (stored !== undefined && candidate.version <= stored.version) return false;
  entities.set(id, candidate);
  return true;
}

function successionOf(replaces: PairReplacementV1, pairId: string, since: string, eventId: string): Succession {
  return {
    failedSerial: replaces.failedSerial,
    successorSerial: replaces.successorSerial,
    pairId,
    replacedPairId: replaces.pairId,
    since,
    eventId,
  };
}

/** Adds a replacement once (by the pair it formed), keeping each failed unit's list ordered oldest first; true when added. */
function addSuccession(successors: Map<string, readonly Succession[]>, succession: Succession): boolean {
  const known = successors.get(succession.failedSerial) ?? [];
  if (known.some((s) => s.pairId === succession.pairId)) return false;
  const list = [...known, succession].sort((a, b) => (isLaterSuccession(a, b) ? 1 : isLaterSuccession(b, a) ? -1 : 0));
  successors.set(succession.failedSerial, list);
  return true;
}

/**
 * The replacement through which `serial`'s licenses pass on, or null: its latest one, unless `serial` was
 * associated again after it (then every older one is over too).
 */
function successionInEffect(state: ProjectionState, serial: string): Succession | null {
  const latest = state.successors.get(serial)?.at(-1);
  if (latest === undefined) return null;
  const since = Date.parse(latest.since);
  for (const pairId of state.pairIdsBySerial.get(serial) ?? []) {
    const pair = state.pairs.get(pairId);
    if (pair !== undefined && Date.parse(pair.facts.associatedAt) > since) return null;
  }
  return latest;
}

/** `serials` and every unit any recorded replacement passes their licenses to, transitively, in effect or not. */
function successorClosure(state: ProjectionState, serials: readonly string[]): string[] {
  const reached = new Set(serials);
  const pending = [...serials];
  for (let serial = pending.pop(); serial !== undefined; serial = pending.pop()) {
    for (const { successorSerial } of state.successors.get(serial) ?? []) {
      if (!reached.has(successorSerial)) {
        reached.add(successorSerial);
        pending.push(successorSerial);
      }
    }
  }
  return [...reached];
}

function associatedPairsOf(state: ProjectionState, serial: string): PairFacts[] {
  const pairs: PairFacts[] = [];
  for (const pairId of state.pairIdsBySerial.get(serial) ?? []) {
    const pair = state.pairs.get(pairId)?.facts;
    if (pair?.status === 'associated') pairs.push(pair);
  }
  return pairs;
}

function isAssociatedLater(a: PairFacts, b: PairFacts): boolean {
  const delta = Date.parse(a.associatedAt) - Date.parse(b.associatedAt);
  return delta !== 0 ? delta > 0 : a.pairId > b.pairId;
}

function isLaterSuccession(a: Succession, b: Succession): boolean {
  const delta = Date.parse(a.since) - Date.parse(b.since);
  return delta !== 0 ? delta > 0 : a.pairId > b.pairId;
}

function licensesOf(state: ProjectionState, serials: readonly string[]): Versioned<LicenseFacts>[] {
  const licenses: Versioned<LicenseFacts>[] = [];
  for (const serial of serials) {
    for (const licenseId of state.licenseIdsBySerial.get(serial) ?? []) licenses.push(state.licenses.get(licenseId)!);
  }
  return licenses;
}

function uniqueSorted(serials: readonly string[]): string[] {
  return [...new Set(serials)].sort();
}
