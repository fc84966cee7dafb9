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
  },
  ProductFirmwareChanged: {
    source: 'pairing',
    subjectToken: 'product-firmware-changed',
    schemaVersion: 1,
    schema: ProductFirmwareChangedV1,
    subjectKey: (d) => d.serial,
  },
  ProductsAssociated: {
    source: 'pairing',
    subjectToken: 'products-associated',
    schemaVersion: 1,
    schema: ProductsAssociatedV1,
    subjectKey: (d) => d.secondarySerial,
  },
  ProductsDissociated: {
    source: 'pairing',
    subjectToken: 'products-dissociated',
    schemaVersion: 1,
    schema: ProductsDissociatedV1,
    subjectKey: (d) => d.secondarySerial,
  },
  EntitlementChanged: {
    source: 'licensing',
    subjectToken: 'entitlement-changed',
    schemaVersion: 1,
    schema: EntitlementChangedV1,
    subjectKey: (d) => d.license.serial,
  },
  EntitlementExpiringSoon: {
    source: 'licensing',
    subjectToken: 'entitlement-expiring-soon',
    schemaVersion: 1,
    schema: EntitlementExpiringSoonV1,
    subjectKey: (d) => d.license.serial,
  },
  StatefulSyncChanged: {
    source: 'sync-agent',
    subjectToken: 'stateful-sync-changed',
    schemaVersion: 1,
    schema: StatefulSyncChangedV1,
    subjectKey: (d) => d.secondarySerial,
  },
  EffectiveLicensesChanged: {
    source: 'sync-agent',
    subjectToken: 'effective-licenses-changed',
    schemaVersion: 1,
    schema: EffectiveLicensesChangedV1,
    subjectKey: (d) => d.serial,
  },
};

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_CATALOG, type);
}

export function contractOf<T extends EventType>(type: T): EventContract<T> {
  return EVENT_CATALOG[type];
}
