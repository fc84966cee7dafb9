import { type z } from 'zod';
import {
  ProductFirmwareChangedV1,
  ProductRegisteredV1,
  ProductsAssociatedV1,
  ProductsDissociatedV1,
  type PairingEvent,
} from './pairing.events.js';
import { EntitlementChangedV1, EntitlementExpiringSoonV1, type LicensingEvent } from './licensing.events.js';
import { EffectiveLicensesChangedV1, StatefulSyncChangedV1, type SyncAgentEvent } from './sync-agent.events.js';

/** Every event any service publishes, as a domain event. */
export type PublishedEvent = PairingEvent | LicensingEvent | SyncAgentEvent;
export type EventType = PublishedEvent['type'];
export type EventOf<T extends EventType> = Extract<PublishedEvent, { type: T }>;

/** The service that owns (and alone publishes) a family of events; also the first subject token. */
export type EventSource = 'pairing' | 'licensing' | 'sync-agent';

interface EventContract<T extends EventType> {
  readonly source: EventSource;
  /** The subject token after `<source>.v<schemaVersion>.`, e.g. `products-associated`. */
  readonly subjectToken: string;
  readonly schemaVersion: number;
  readonly schema: z.ZodType<EventOf<T>['data']>;
  /** The last subject token: the serial the event is about (the Secondary's for pair events). */
  readonly subjectKey: (data: EventOf<T>['data']) => string;
  /** The envelope's `streamId`: the aggregate whose events `streamVersion` orders, e.g. `product-<serial>`. */
  readonly streamIdFormat: string;
  /** What the event means to a subscriber, for the published documentation (AsyncAPI). */
  readonly description: string;
}

/**
 * The versioned contract of every event: who publishes it, its subject and its runtime schema.
 * A new schema version is a new row here (and a new subject version), never an edit of an old one.
 */
export const EVENT_CATALOG: { readonly [T in EventType]: EventContract<T> } = {
  ProductRegistered: {
    source: 'pairing',
    subjectToken: 'product-registered',
    schemaVersion: 1,
    schema: ProductRegisteredV1,
    subjectKey: (d) => d.serial,
    streamIdFormat: 'product-<serial>',
    description: 'A product was registered (`POST /products`).',
  },
  ProductFirmwareChanged: {
    source: 'pairing',
    subjectToken: 'product-firmware-changed',
    schemaVersion: 1,
    schema: ProductFirmwareChangedV1,
    subjectKey: (d) => d.serial,
    streamIdFormat: 'product-<serial>',
    description: "A product's firmware changed (`PATCH /products/{serial}`); repeats model and account.",
  },
  ProductsAssociated: {
    source: 'pairing',
    subjectToken: 'products-associated',
    schemaVersion: 1,
    schema: ProductsAssociatedV1,
    subjectKey: (d) => d.secondarySerial,
    streamIdFormat: 'pair-<pairId>',
    description:
      'Two products became a pair (`POST /pairs`, or the new pair of `POST /pairs/{pairId}/replacements`, with `replaces`).',
  },
  ProductsDissociated: {
    source: 'pairing',
    subjectToken: 'products-dissociated',
    schemaVersion: 1,
    schema: ProductsDissociatedV1,
    subjectKey: (d) => d.secondarySerial,
    streamIdFormat: 'pair-<pairId>',
    description: 'A pair ended (`DELETE /pairs/{pairId}`, or the old pair of a replacement, with `replacedBy`).',
  },
  EntitlementChanged: {
    source: 'licensing',
    subjectToken: 'entitlement-changed',
    schemaVersion: 1,
    schema: EntitlementChangedV1,
    subjectKey: (d) => d.license.serial,
    streamIdFormat: 'license-<licenseId>',
    description:
      "A license was granted, renewed, revoked, recorded as expired (by the expiry scheduler, at the expiry instant) or transferred (to the successor of a replaced unit); the subject's serial is the license's serial after the change.",
  },
  EntitlementExpiringSoon: {
    source: 'licensing',
    subjectToken: 'entitlement-expiring-soon',
    schemaVersion: 1,
    schema: EntitlementExpiringSoonV1,
    subjectKey: (d) => d.license.serial,
    streamIdFormat: 'license-<licenseId>',
    description: 'A license entered the expiry warning window (`EXPIRY_WARNING_DAYS`); once per license and expiry.',
  },
  StatefulSyncChanged: {
    source: 'sync-agent',
    subjectToken: 'stateful-sync-changed',
    schemaVersion: 1,
    schema: StatefulSyncChangedV1,
    subjectKey: (d) => d.secondarySerial,
    streamIdFormat: 'stateful-sync-<pairId>',
    description:
      "A pair's stateful synchronization: its initial state when the sync agent first sees the pair (stream version 1, enabled or not), then every change; a pair that ends publishes `NOT_PAIRED` only if it was enabled.",
  },
  EffectiveLicensesChanged: {
    source: 'sync-agent',
    subjectToken: 'effective-licenses-changed',
    schemaVersion: 1,
    schema: EffectiveLicensesChangedV1,
    subjectKey: (d) => d.serial,
    streamIdFormat: 'effective-licenses-<serial>',
    description:
      "A product's effective license set differs, in any field, from the last one published for it (stream version 1 is its first set). The SKU deltas are empty exactly when only the role, peer, pair or stateful sync changed (`changedFields` says which); `causes` lists every consumed event behind it. An expiry by the passage of time alone is not announced: the set is computed against the clock when read.",
  },
};

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_CATALOG, type);
}

export function contractOf<T extends EventType>(type: T): EventContract<T> {
  return EVENT_CATALOG[type];
}
