/**
 * The mixed load: register, change firmware, pair, re-pair, dissociate, grant, renew, revoke, and reads,
 * from a few concurrent workers, plus a share of requests that must be refused (409/400). Every answer is
 * recorded and classified, and every acknowledged write is applied to the World.
 */
import { randomBytes } from 'node:crypto';
import { BASE_OS_SKUS, LICENSE_CATALOG, STATEFUL_SYNC_SKU } from '#shared/contracts';
import { request, type HttpOptions, type Reply } from './http.js';
import type { ModelLicense } from './oracle.js';
import type { ServiceName } from '#shared/tools';
import type { LicenseEntry, ProductEntry, World } from './world.js';

/** A seeded pseudo-random generator (mulberry32), so a run's choices can be replayed with CHAOS_SEED. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[Math.floor(this.next() * items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** One answer the harness got, with what it asked. */
export interface Observation {
  readonly service: ServiceName;
  readonly op: string;
  readonly write: boolean;
  readonly reply: Reply;
  /** The serials of the units a write concerns (its product, both units of a pair, a license's product). */
  readonly units: readonly string[];
}

/** Every answer of the run, in order. */
export class Recorder {
  readonly observations: Observation[] = [];
  record(service: ServiceName, op: string, write: boolean, reply: Reply, units: readonly string[] = []): Reply {
    this.observations.push({ service, op, write, reply, units });
    return reply;
  }
}

export interface LoadSettings {
  readonly concurrency: number;
  readonly maxProducts: number;
  /** Pause between two requests of one worker. */
  readonly thinkMs: number;
}

const MODELS = ['NSA 2700', 'NSA 3700', 'TZ 370'] as const;
const ACCOUNTS = ['acct-chaos-1', 'acct-chaos-2'] as const;
const FIRMWARE = ['3.9.1', '4.0.0', '6.5.4', '7.0.1', '7.1.2'] as const;
const DAY_MS = 86_400_000;

const serial = () => randomBytes(6).toString('hex').toUpperCase();

export class Load {
  private stopping = false;
  private workers: Promise<void>[] = [];
  private readonly http: HttpOptions;

  constructor(
    private readonly world: World,
    private readonly urls: Readonly<Record<ServiceName, string>>,
    http: HttpOptions,
    private readonly random: Random,
    private readonly recorder: Recorder,
    private readonly settings: LoadSettings,
  ) {
    this.http = http;
  }

  start(): void {
    this.stopping = false;
    this.workers = Array.from({ length: this.settings.concurrency }, () => this.work());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    while (!this.stopping) {
      const reply = await this.step();
      // Back off while the system is down, so an outage is observed rather than hammered.
      const pause =
        reply && reply.outcome !== 'ok' && reply.status !== 404 && reply.status !== 409 && reply.status !== 400
          ? 250
          : this.settings.thinkMs;
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  private call(
    service: ServiceName,
    op: string,
    units: readonly string[] | null,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Reply> {
    return request(this.http, this.urls[service], method, path, body).then((reply) =>
      this.recorder.record(service, op, units !== null, reply, units ?? []),
    );
  }

  /** One request chosen at random among those the current state allows. */
  private async step(): Promise<Reply | null> {
    const r = this.random;
    const products = this.world.usableProducts();
    const choices: [number, () => Promise<Reply | null>][] = [];
    // Registrations answered 5xx stay in the World until read back; only registered products count.
    if (products.length < this.settings.maxProducts) choices.push([products.length < 8 ? 60 : 14, () => this.register()]);
    if (products.length > 0) {
      choices.push([28, () => this.grant(r.pick(products))]);
      choices.push([5, () => this.changeFirmware(r.pick(products))]);
      choices.push([6, () => this.read(r.pick(products))]);
    }
    choices.push([16, () => this.pair()]);
    choices.push([6, () => this.dissociate()]);
    choices.push([10, () => this.renew()]);
    choices.push([8, () => this.revoke()]);
    choices.push([3, () => this.mustFail()]);
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let x = r.next() * total;
    for (const [weight, run] of choices) {
      x -= weight;
      if (x < 0) return run();
    }
    return null;
  }

  /** POST /products; `reserved` keeps the product out of the random load (the convergence probe's). */
  async register(reserved = false): Promise<Reply> {
    const r = this.random;
    const product = {
      serial: serial(),
      model: reserved ? MODELS[0] : r.pick(MODELS),
      accountId: r.pick(ACCOUNTS),
      firmwareVersion: r.pick(FIRMWARE),
    };
    const entry: ProductEntry = {
      product,
      registered: 'unknown',
      firmwareBusy: false,
      firmwareCandidates: null,
      membershipBusy: false,
      membershipFrozen: false,
      reserved,
    };
    this.world.products.set(product.serial, entry);
    const reply = await this.call('pairing', 'register', [product.serial], 'POST', '/products', product);
    if (reply.outcome === 'ok') entry.registered = 'yes';
    else if (reply.outcome === 'refused' || (reply.outcome === 'failed' && reply.status < 500))
      this.world.products.delete(product.serial);
    // else: unknown, resolved after the run
    return reply;
  }

  private async changeFirmware(entry: ProductEntry): Promise<Reply | null> {
    if (entry.firmwareBusy || entry.firmwareCandidates) return null;
    const before = entry.product.firmwareVersion;
    const after = this.random.pick(FIRMWARE.filter((f) => f !== before));
    entry.firmwareBusy = true;
    const reply = await this.call('pairing', 'firmware', [entry.product.serial], 'PATCH', `/products/${entry.product.serial}`, {
      firmwareVersion: after,
    });
    entry.firmwareBusy = false;
    if (reply.outcome === 'ok') entry.product = { ...entry.product, firmwareVersion: after };
    else if (uncertain(reply)) entry.firmwareCandidates = [before, after];
    return reply;
  }

  private async read(entry: ProductEntry): Promise<Reply> {
    const which = this.random.int(0, 2);
    if (which === 0) return this.call('sync-agent', 'read', null, 'GET', `/products/${entry.product.serial}/effective-licenses`);
    if (which === 1) return this.call('licensing', 'read', null, 'GET', `/products/${entry.product.serial}/licenses`);
    return this.call('pairing', 'read', null, 'GET', `/products/${entry.product.serial}`);
  }

  /** POST /pairs for two unpaired units of one model and account; prefers units that were paired before (re-pair). */
  private async pair(): Promise<Reply | null> {
    const free = this.world
      .usableProducts()
      .filter((p) => !p.membershipBusy && !p.membershipFrozen && !this.world.activePairOf(p.product.serial));
    if (free.length < 2) return null;
    const wasPaired = new Set([...this.world.pairs.values()].flatMap((p) => [p.pair.primarySerial, p.pair.secondarySerial]));
    const preferred = free.filter((p) => wasPaired.has(p.product.serial));
    const first = preferred.length > 0 && this.random.chance(0.5) ? this.random.pick(preferred) : this.random.pick(free);
    const partners = free.filter(
      (p) => p !== first && p.product.model === first.product.model && p.product.accountId === first.product.accountId,
    );
    if (partners.length === 0) return null;
    const second = this.random.pick(partners);
    const [primary, secondary] = this.random.chance(0.5) ? [first, second] : [second, first];
    primary.membershipBusy = secondary.membershipBusy = true;
    const op = wasPaired.has(primary.product.serial) || wasPaired.has(secondary.product.serial) ? 're-pair' : 'pair';
    const body = { primarySerial: primary.product.serial, secondarySerial: secondary.product.serial };
    const reply = await this.call('pairing', op, [body.primarySerial, body.secondarySerial], 'POST', '/pairs', body);
    primary.membershipBusy = secondary.membershipBusy = false;
    if (reply.outcome === 'ok') {
      const pairId = (reply.body as { pairId: string }).pairId;
      this.world.pairs.set(pairId, { pair: { pairId, ...body, status: 'associated' }, busy: false, frozen: false });
    } else if (uncertain(reply)) {
      primary.membershipFrozen = secondary.membershipFrozen = true;
      this.world.uncertainPairs.push(body);
    }
    return reply;
  }

  private async dissociate(): Promise<Reply | null> {
    const candidates = [...this.world.pairs.values()].filter((p) => {
      if (p.pair.status !== 'associated' || p.busy || p.frozen) return false;
      const a = this.world.products.get(p.pair.primarySerial);
      const b = this.world.products.get(p.pair.secondarySerial);
      return a && b && !a.membershipBusy && !b.membershipBusy && !a.membershipFrozen && !b.membershipFrozen;
    });
    if (candidates.length === 0) return null;
    const entry = this.random.pick(candidates);
    const units = [entry.pair.primarySerial, entry.pair.secondarySerial].map((s) => this.world.products.get(s)!);
    entry.busy = true;
    for (const u of units) u.membershipBusy = true;
    const reply = await this.call(
      'pairing',
      'dissociate',
      [entry.pair.primarySerial, entry.pair.secondarySerial],
      'DELETE',
      `/pairs/${entry.pair.pairId}`,
    );
    entry.busy = false;
    for (const u of units) u.membershipBusy = false;
    if (reply.outcome === 'ok') entry.pair = { ...entry.pair, status: 'dissociated' };
    else if (uncertain(reply)) {
      entry.frozen = true;
      for (const u of units) u.membershipFrozen = true;
    }
    return reply;
  }

  /**
   * POST /products/:serial/licenses with a random SKU: STATEFUL_SYNC more often (it turns stateful sync on), and the
   * base OS license too (a pair is ready only when its Secondary holds one, and the readiness oracle needs ready answers).
   */
  async grant(entry: ProductEntry, fixedSku?: string): Promise<Reply> {
    const r = this.random;
    const sku =
      fixedSku ?? (r.chance(0.15) ? STATEFUL_SYNC_SKU : r.chance(0.25) ? r.pick(BASE_OS_SKUS) : r.pick(LICENSE_CATALOG).sku);
    const trial = r.chance(0.15);
    const expiresAt = trial || r.chance(0.7) ? new Date(Date.now() + r.int(365, 900) * DAY_MS).toISOString() : null;
    const body = { sku, expiresAt, trial };
    const reply = await this.call(
      'licensing',
      'grant',
      [entry.product.serial],
      'POST',
      `/products/${entry.product.serial}/licenses`,
      body,
    );
    if (reply.outcome === 'ok') {
      const license = reply.body as ModelLicense;
      this.world.licenses.set(license.licenseId, {
        license: { licenseId: license.licenseId, serial: entry.product.serial, sku, trial, expiresAt, status: 'active' },
        busy: false,
        candidates: null,
      });
    } else if (uncertain(reply)) this.world.uncertainGrants.push({ serial: entry.product.serial, ...body });
    return reply;
  }

  private freeLicense(filter: (l: LicenseEntry) => boolean): LicenseEntry | null {
    const candidates = [...this.world.licenses.values()].filter(
      (l) => !l.busy && l.candidates === null && !this.world.products.get(l.license.serial)?.reserved && filter(l),
    );
    return candidates.length === 0 ? null : this.random.pick(candidates);
  }

  private async renew(): Promise<Reply | null> {
    const entry = this.freeLicense((l) => l.license.status === 'active' && l.license.expiresAt !== null);
    if (!entry) return null;
    const before = entry.license;
    const expiresAt = new Date(Date.parse(before.expiresAt!) + this.random.int(30, 200) * DAY_MS).toISOString();
    entry.busy = true;
    const reply = await this.call('licensing', 'renew', [before.serial], 'POST', `/licenses/${before.licenseId}/renewals`, {
      expiresAt,
    });
    entry.busy = false;
    if (reply.outcome === 'ok') entry.license = { ...before, expiresAt };
    else if (uncertain(reply)) entry.candidates = [before, { ...before, expiresAt }];
    return reply;
  }

  private async revoke(): Promise<Reply | null> {
    const entry = this.freeLicense((l) => l.license.status === 'active');
    if (!entry) return null;
    const before = entry.license;
    entry.busy = true;
    const reply = await this.call('licensing', 'revoke', [before.serial], 'DELETE', `/licenses/${before.licenseId}`);
    entry.busy = false;
    if (reply.outcome === 'ok') entry.license = { ...before, status: 'revoked' };
    else if (uncertain(reply)) entry.candidates = [before, { ...before, status: 'revoked' }];
    return reply;
  }

  /** Requests the rules refuse (a second revocation, an unknown SKU, a pair of two models): they must change nothing. */
  private async mustFail(): Promise<Reply | null> {
    const which = this.random.int(0, 2);
    if (which === 0) {
      const entry = this.freeLicense((l) => l.license.status === 'revoked');
      if (!entry) return null;
      entry.busy = true;
      const reply = await this.call(
        'licensing',
        'revoke (refused)',
        [entry.license.serial],
        'DELETE',
        `/licenses/${entry.license.licenseId}`,
      );
      entry.busy = false;
      return reply;
    }
    const products = this.world.usableProducts();
    if (products.length === 0) return null;
    const target = this.random.pick(products);
    if (which === 1) {
      return this.call(
        'licensing',
        'grant (refused)',
        [target.product.serial],
        'POST',
        `/products/${target.product.serial}/licenses`,
        {
          sku: 'NO_SUCH_SKU',
        },
      );
    }
    const other = products.find((p) => p.product.model !== target.product.model && !p.membershipBusy && !p.membershipFrozen);
    if (!other || target.membershipBusy || target.membershipFrozen) return null;
    target.membershipBusy = other.membershipBusy = true;
    const reply = await this.call('pairing', 'pair (refused)', [target.product.serial, other.product.serial], 'POST', '/pairs', {
      primarySerial: target.product.serial,
      secondarySerial: other.product.serial,
    });
    target.membershipBusy = other.membershipBusy = false;
    return reply;
  }
}

/**
 * No definite answer, or a 5xx: the write may have committed (a 5xx can follow a commit whose acknowledgement
 * was lost), so the entity is resolved by reading it back after the run.
 */
export function uncertain(reply: Reply): boolean {
  return reply.outcome === 'indeterminate' || (reply.outcome === 'failed' && reply.status >= 500);
}
