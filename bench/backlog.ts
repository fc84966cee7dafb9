/**
 * The backlog every projection is measured on: realistic pairing and licensing events, published straight
 * into a namespace's PAIRING and LICENSING streams the way the relays publish them (subject from the
 * catalog, `Nats-Msg-Id` = event id), many publishes in flight.
 *
 * Shape: `products` appliances (NSA models, so stateful sync applies) registered and associated in pairs,
 * a few firmware upgrades and dissociations, then license changes: 70 % grants (80 % on Primaries), 25 %
 * renewals, 5 % revocations, each carrying the license's full state and its stream version.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER, loadEventKeyRing, signEvent, type EventSigningKey } from '#shared';
import { REPO_ROOT } from './support/config.js';
import {
  LICENSE_CATALOG,
  MODEL_CATALOG,
  STATEFUL_SYNC_SKU,
  busNames,
  contractOf,
  parseEnvelope,
  type BusNames,
  type EventEnvelope,
  type EventType,
  type LicenseStateV1,
  type PublishedEvent,
} from '#shared/contracts';

const DAY_MS = 86_400_000;
const MODELS = MODEL_CATALOG.filter((m) => m.statefulSync).map((m) => m.model);
const SKUS = LICENSE_CATALOG.map((s) => s.sku);

interface Pair {
  readonly pairId: string;
  readonly primary: string;
  readonly secondary: string;
  readonly model: string;
  readonly accountId: string;
  readonly associatedAt: string;
}

interface License {
  state: LicenseStateV1;
  version: number;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const serial = () => randomBytes(6).toString('hex').toUpperCase();

/** Makes valid envelopes (checked once per type against parseEnvelope) and remembers what it made. */
export class BacklogGenerator {
  readonly pairs: Pair[] = [];
  private readonly licenses: License[] = [];
  private readonly checked = new Set<EventType>();
  private readonly now = Date.now();

  constructor(private readonly products: number) {}

  private envelope<E extends PublishedEvent>(event: E, streamId: string, streamVersion: number): EventEnvelope {
    const envelope = {
      eventId: randomUUID(),
      type: event.type,
      schemaVersion: contractOf(event.type).schemaVersion,
      streamId,
      streamVersion,
      occurredAt: new Date().toISOString(),
      data: event.data,
      metadata: { correlationId: randomUUID(), causationId: null },
    } as EventEnvelope;
    if (!this.checked.has(event.type)) {
      parseEnvelope(JSON.stringify(envelope)); // throws if the benchmark's events drifted from the contracts
      this.checked.add(event.type);
    }
    return envelope;
  }

  /** Registrations and associations of every pair, a few firmware upgrades and dissociations. */
  *pairingEvents(): Generator<EventEnvelope> {
    const at = new Date(this.now - 30 * DAY_MS).toISOString();
    for (let i = 0; i < this.products / 2; i++) {
      const pair: Pair = {
        pairId: randomUUID(),
        primary: serial(),
        secondary: serial(),
        model: pick(MODELS),
        accountId: `acct-${i % 997}`,
        associatedAt: at,
      };
      this.pairs.push(pair);
      for (const s of [pair.primary, pair.secondary]) {
        yield this.envelope(
          {
            type: 'ProductRegistered',
            data: { serial: s, model: pair.model, firmwareVersion: '7.0.1', accountId: pair.accountId, registeredAt: at },
          },
          `product-${s}`,
          1,
        );
      }
      const associated = {
        pairId: pair.pairId,
        primarySerial: pair.primary,
        secondarySerial: pair.secondary,
        model: pair.model,
        accountId: pair.accountId,
        associatedAt: at,
      };
      yield this.envelope({ type: 'ProductsAssociated', data: associated }, `pair-${pair.pairId}`, 1);
      if (i % 20 === 0) {
        yield this.envelope(
          {
            type: 'ProductFirmwareChanged',
            data: {
              serial: pair.secondary,
              model: pair.model,
              accountId: pair.accountId,
              previousFirmwareVersion: '7.0.1',
              firmwareVersion: '7.1.0',
              changedAt: at,
            },
          },
          `product-${pair.secondary}`,
          2,
        );
      }
      if (i % 50 === 49) {
        yield this.envelope(
          { type: 'ProductsDissociated', data: { ...associated, dissociatedAt: at } },
          `pair-${pair.pairId}`,
          2,
        );
      }
    }
  }

  /** `count` license changes over the registered products (call after pairingEvents()). */
  *licensingEvents(count: number): Generator<EventEnvelope> {
    if (this.pairs.length === 0) throw new Error('licensingEvents needs the pairs: generate the pairing events first');
    for (let i = 0; i < count; i++) {
      const roll = Math.random();
      if (roll < 0.7 || this.licenses.length < 100) yield this.grant();
      else if (roll < 0.95) yield this.renew();
      else yield this.revoke();
    }
  }

  private grant(): EventEnvelope {
    const pair = pick(this.pairs);
    const onPrimary = Math.random() < 0.8;
    const sku = onPrimary ? pick(SKUS) : pick(SKUS.filter((s) => s !== STATEFUL_SYNC_SKU));
    const trial = Math.random() < 0.05;
    const perpetual = !trial && Math.random() < 0.1;
    const expiresAt = perpetual ? null : new Date(this.now + (trial ? 30 : 30 + Math.floor(Math.random() * 1000)) * DAY_MS);
    const state: LicenseStateV1 = {
      licenseId: randomUUID(),
      serial: onPrimary ? pair.primary : pair.secondary,
      sku,
      trial,
      expiresAt: expiresAt?.toISOString() ?? null,
      status: 'active',
      grantedAt: new Date().toISOString(),
      revokedAt: null,
    };
    const license = { state, version: 1 };
    this.licenses.push(license);
    return this.change('granted', license);
  }

  private renew(): EventEnvelope {
    const license = this.activeLicense();
    const from = license.state.expiresAt === null ? this.now : Date.parse(license.state.expiresAt);
    license.state = { ...license.state, expiresAt: new Date(from + 365 * DAY_MS).toISOString() };
    license.version++;
    return this.change('renewed', license);
  }

  private revoke(): EventEnvelope {
    const index = Math.floor(Math.random() * this.licenses.length);
    const license = this.licenses[index]!;
    // Swap-remove: a revoked license changes no more.
    this.licenses[index] = this.licenses[this.licenses.length - 1]!;
    this.licenses.pop();
    license.state = { ...license.state, status: 'revoked', revokedAt: new Date().toISOString() };
    license.version++;
    return this.change('revoked', license);
  }

  private activeLicense(): License {
    return pick(this.licenses);
  }

  private change(change: 'granted' | 'renewed' | 'revoked', license: License): EventEnvelope {
    return this.envelope(
      { type: 'EntitlementChanged', data: { change, license: license.state, changedAt: new Date().toISOString() } },
      `license-${license.state.licenseId}`,
      license.version,
    );
  }
}

/**
 * The development signing key of `source` that the services started from this checkout verify with (they run
 * from the repository root without EVENT_KEYS_DIR): the backlog is published as its producers would sign it.
 */
function developmentSigningKey(source: 'pairing' | 'licensing'): EventSigningKey {
  const dir = join(REPO_ROOT, '.local', 'event-signing-keys');
  return loadEventKeyRing({ dir, configured: false, signingKeyId: undefined, production: false }, source).signing;
}

/**
 * Publishes envelopes on their subjects, signed as their producers' relays sign them, with up to `window`
 * PubAcks outstanding; returns how many.
 */
export async function publishEnvelopes(
  js: JetStreamClient,
  names: BusNames,
  envelopes: Iterable<EventEnvelope>,
  onProgress?: (published: number) => void,
  window = 4_000,
): Promise<number> {
  let published = 0;
  let pending: Promise<unknown>[] = [];
  const keys = { pairing: developmentSigningKey('pairing'), licensing: developmentSigningKey('licensing') };
  for (const envelope of envelopes) {
    const subject = names.subjectOf(envelope);
    const source = contractOf(envelope.type).source === 'pairing' ? 'pairing' : 'licensing';
    const { body, keyId, signature } = signEvent(envelope, subject, keys[source]);
    const h = headers();
    h.set(EVENT_KEY_ID_HEADER, keyId);
    h.set(EVENT_SIGNATURE_HEADER, signature);
    pending.push(js.publish(subject, body, { msgID: envelope.eventId, timeout: 30_000, headers: h }));
    if (pending.length >= window) {
      await Promise.all(pending);
      published += pending.length;
      pending = [];
      onProgress?.(published);
    }
  }
  await Promise.all(pending);
  published += pending.length;
  onProgress?.(published);
  return published;
}

/** What a backlog holds, per stream. */
export interface Backlog {
  readonly names: BusNames;
  readonly generator: BacklogGenerator;
  pairingEvents: number;
  licensingEvents: number;
  readonly total: () => number;
}

/** Publishes a backlog of about `events` events for `products` products into `namespace`'s streams. */
export async function publishBacklog(
  js: JetStreamClient,
  namespace: string,
  products: number,
  events: number,
  log: (line: string) => void,
): Promise<Backlog> {
  const names = busNames(namespace);
  const generator = new BacklogGenerator(products);
  const backlog: Backlog = {
    names,
    generator,
    pairingEvents: 0,
    licensingEvents: 0,
    total: () => backlog.pairingEvents + backlog.licensingEvents,
  };
  const started = performance.now();
  backlog.pairingEvents = await publishEnvelopes(js, names, generator.pairingEvents());
  backlog.licensingEvents = await growBacklog(js, backlog, events - backlog.pairingEvents, log);
  const seconds = (performance.now() - started) / 1000;
  log(
    `backlog: ${backlog.total()} events (${backlog.pairingEvents} pairing, ${backlog.licensingEvents} licensing) published in ${seconds.toFixed(1)} s`,
  );
  return backlog;
}

/** Appends `count` more license changes to the backlog's LICENSING stream; returns the new licensing total. */
export async function growBacklog(
  js: JetStreamClient,
  backlog: Backlog,
  count: number,
  log: (line: string) => void,
): Promise<number> {
  let lastLog = performance.now();
  const before = backlog.licensingEvents;
  const published = await publishEnvelopes(js, backlog.names, backlog.generator.licensingEvents(count), (n) => {
    if (performance.now() - lastLog > 3_000) {
      lastLog = performance.now();
      log(`backlog: ${before + n + backlog.pairingEvents} events published`);
    }
  });
  backlog.licensingEvents = before + published;
  return backlog.licensingEvents;
}
