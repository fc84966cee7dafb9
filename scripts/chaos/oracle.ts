/**
 * The chaos harness's oracle: an INDEPENDENT model of what every product's effective license set must be,
 * computed from the final state of the products, pairs and licenses the harness's acknowledged requests
 * created (it does not import the sync agent's projection). The rules, from the README and the catalogs:
 * - a product's set is its own usable licenses (active, not expired), whatever their SKU;
 * - a Secondary of an associated pair also gets its Primary's usable licenses of shareable SKUs (consulting
 *   and the STATEFUL_SYNC upgrade are not shareable), one entry per license id;
 * - a dissociated pair shares nothing; a standalone unit has only its own licenses;
 * - stateful sync is on for both units of an associated pair when the Primary holds a usable STATEFUL_SYNC,
 *   the model supports it and both units run firmware 4.0 or later.
 * A set is compared as a list of facts (one line per source license of each SKU, plus role, peer and stateful
 * sync), so a missing license, a stale expiry or a license that should be gone all show up as lines.
 */
import { findModel, findSku, STATEFUL_SYNC_SKU } from '#shared/contracts';

export interface ModelProduct {
  readonly serial: string;
  readonly model: string;
  readonly accountId: string;
  readonly firmwareVersion: string;
}

export interface ModelPair {
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly status: 'associated' | 'dissociated';
}

export interface ModelLicense {
  readonly licenseId: string;
  readonly serial: string;
  readonly sku: string;
  readonly trial: boolean;
  readonly expiresAt: string | null;
  readonly status: 'active' | 'revoked';
}

/** The final state of everything the acknowledged requests made. */
export interface ModelWorld {
  readonly products: ReadonlyMap<string, ModelProduct>;
  readonly pairs: ReadonlyMap<string, ModelPair>;
  readonly licenses: ReadonlyMap<string, ModelLicense>;
}

/** The part of an effective set the oracle checks, as the sync agent's API returns it. */
export interface ObservedSet {
  readonly role: string;
  readonly peerSerial: string | null;
  readonly pairId: string | null;
  readonly licenses: readonly {
    readonly sku: string;
    readonly sources: readonly { readonly licenseId: string; readonly expiresAt: string | null }[];
  }[];
  readonly statefulSync: { readonly enabled: boolean };
}

/** Firmware `a` ≥ `b`, compared numerically part by part (`4.10` is after `4.9`). */
function firmwareAtLeast(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

function usable(license: ModelLicense, now: Date): boolean {
  return license.status === 'active' && (license.expiresAt === null || Date.parse(license.expiresAt) > now.getTime());
}

/** The associated pair a serial belongs to, if any. */
export function activePairOf(world: ModelWorld, serial: string): ModelPair | null {
  for (const pair of world.pairs.values()) {
    if (pair.status === 'associated' && (pair.primarySerial === serial || pair.secondarySerial === serial)) return pair;
  }
  return null;
}

function licensesOf(world: ModelWorld, serial: string, now: Date): ModelLicense[] {
  return [...world.licenses.values()].filter((l) => l.serial === serial && usable(l, now));
}

const normalInstant = (at: string | null) => (at === null ? 'perpetual' : new Date(at).toISOString());

/** The facts the effective set of a registered product must show, one line each, sorted. */
export function expectedFacts(world: ModelWorld, serial: string, now: Date): string[] {
  const product = world.products.get(serial);
  if (!product) throw new Error(`${serial} is not a registered product of the model`);
  const pair = activePairOf(world, serial);
  const role = pair === null ? 'standalone' : pair.primarySerial === serial ? 'primary' : 'secondary';
  const facts = [
    `${serial} role=${role}`,
    `${serial} peer=${pair === null ? '-' : role === 'primary' ? pair.secondarySerial : pair.primarySerial}`,
  ];
  facts.push(`${serial} pair=${pair?.pairId ?? '-'}`);
  const sources = licensesOf(world, serial, now);
  if (pair !== null && role === 'secondary') {
    const own = new Set(sources.map((l) => l.licenseId));
    for (const license of licensesOf(world, pair.primarySerial, now)) {
      if ((findSku(license.sku)?.shareable ?? false) && !own.has(license.licenseId)) sources.push(license);
    }
  }
  for (const l of sources) facts.push(`${serial} ${l.sku} license=${l.licenseId} expires=${normalInstant(l.expiresAt)}`);
  let stateful = false;
  if (pair !== null) {
    const primary = world.products.get(pair.primarySerial);
    const secondary = world.products.get(pair.secondarySerial);
    stateful =
      primary !== undefined &&
      secondary !== undefined &&
      (findModel(primary.model)?.statefulSync ?? false) &&
      firmwareAtLeast(primary.firmwareVersion, '4.0') &&
      firmwareAtLeast(secondary.firmwareVersion, '4.0') &&
      licensesOf(world, pair.primarySerial, now).some((l) => l.sku === STATEFUL_SYNC_SKU);
  }
  facts.push(`${serial} statefulSync=${stateful}`);
  return facts.sort();
}

/** The same facts read off an effective set the sync agent returned. */
export function observedFacts(serial: string, set: ObservedSet): string[] {
  const facts = [`${serial} role=${set.role}`, `${serial} peer=${set.peerSerial ?? '-'}`, `${serial} pair=${set.pairId ?? '-'}`];
  for (const entry of set.licenses) {
    for (const source of entry.sources)
      facts.push(`${serial} ${entry.sku} license=${source.licenseId} expires=${normalInstant(source.expiresAt)}`);
  }
  facts.push(`${serial} statefulSync=${set.statefulSync.enabled}`);
  return facts.sort();
}

/** What the observed facts lack (missing) and what they have that they should not (extra). */
export function compareFacts(expected: readonly string[], observed: readonly string[]): { missing: string[]; extra: string[] } {
  const have = new Set(observed);
  const want = new Set(expected);
  return { missing: expected.filter((f) => !have.has(f)), extra: observed.filter((f) => !want.has(f)) };
}
