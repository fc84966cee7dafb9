import { randomUUID } from 'node:crypto';
import { contractOf, type EventEnvelope, type EventOf, type EventType, type PublishedEvent } from '../contracts/index.js';

const SERIAL_A = '0123456789AB';
const SERIAL_B = 'BA9876543210';
const AT = '2025-01-15T10:00:00.000Z';
const LICENSE_ID = '6f1c2b1e-1d2f-4c1a-9a57-0d5b8d0c1a01';
const PAIR_ID = '0a6d4f4e-6a0e-4a8a-8d0b-2f7b3c1e9d22';

/** One valid data value per event type; the mapped type makes a new event type fail to compile until it has one. */
const SAMPLE_DATA: { readonly [T in EventType]: EventOf<T>['data'] } = {
  ProductRegistered: { serial: SERIAL_A, model: 'FW-500', firmwareVersion: '4.2', accountId: 'acct-1', registeredAt: AT },
  ProductFirmwareChanged: {
    serial: SERIAL_A,
    model: 'FW-500',
    accountId: 'acct-1',
    previousFirmwareVersion: '4.2',
    firmwareVersion: '4.3',
    changedAt: AT,
  },
  ProductsAssociated: {
    pairId: PAIR_ID,
    primarySerial: SERIAL_A,
    secondarySerial: SERIAL_B,
    model: 'FW-500',
    accountId: 'acct-1',
    associatedAt: AT,
  },
  ProductsDissociated: {
    pairId: PAIR_ID,
    primarySerial: SERIAL_A,
    secondarySerial: SERIAL_B,
    model: 'FW-500',
    accountId: 'acct-1',
    associatedAt: AT,
    dissociatedAt: AT,
  },
  EntitlementChanged: {
    change: 'granted',
    license: {
      licenseId: LICENSE_ID,
      serial: SERIAL_A,
      sku: 'THREAT-PROTECTION',
      trial: false,
      expiresAt: null,
      status: 'active',
      grantedAt: AT,
      revokedAt: null,
    },
    changedAt: AT,
  },
  EntitlementExpiringSoon: {
    license: {
      licenseId: LICENSE_ID,
      serial: SERIAL_A,
      sku: 'THREAT-PROTECTION',
      trial: false,
      expiresAt: '2026-12-01T00:00:00.000Z',
      status: 'active',
      grantedAt: AT,
      revokedAt: null,
    },
    windowDays: 30,
    warnedAt: AT,
  },
  StatefulSyncChanged: {
    pairId: '7d1a2c3e-5f60-4b7a-8c9d-0e1f2a3b4c5d',
    primarySerial: SERIAL_A,
    secondarySerial: '00000000000B',
    enabled: true,
    reason: null,
    cause: { eventId: '3b2d9f57-43a3-4d1e-8c55-9a1f4f1e7b10', type: 'ProductsAssociated' },
    changedAt: AT,
  },
  EffectiveLicensesChanged: {
    serial: SERIAL_A,
    added: ['THREAT-PROTECTION'],
    removed: [],
    changed: [],
    set: {
      serial: SERIAL_A,
      role: 'standalone',
      peerSerial: null,
      pairId: null,
      licenses: [
        {
          sku: 'THREAT-PROTECTION',
          category: 'security',
          trial: false,
          expiresAt: null,
          expiringSoon: false,
          sources: [{ from: 'own', serial: SERIAL_A, licenseId: LICENSE_ID, expiresAt: null, eventIds: [LICENSE_ID] }],
        },
      ],
      statefulSync: { enabled: false, reason: 'NOT_PAIRED' },
    },
    cause: { eventId: '3b2d9f57-43a3-4d1e-8c55-9a1f4f1e7b10', type: 'EntitlementChanged' },
    computedAt: AT,
  },
};

/** A valid event of `type`, with `data` fields overridden (the result is not re-validated). */
export function sampleEvent<T extends EventType>(type: T, data: Partial<EventOf<T>['data']> = {}): EventOf<T> {
  const base: object = structuredClone(SAMPLE_DATA[type]);
  return { type, data: { ...base, ...data } } as unknown as EventOf<T>;
}

/**
 * The envelope of an event as the relay publishes it: a fresh event id, the catalog's schema version and
 * fixed defaults for the rest, each overridable.
 */
export function testEnvelope<E extends PublishedEvent>(
  event: E,
  overrides: Partial<Omit<EventEnvelope, 'type' | 'data'>> = {},
): EventEnvelope<E> {
  return {
    eventId: randomUUID(),
    schemaVersion: contractOf(event.type).schemaVersion,
    streamId: `test-${event.type}`,
    streamVersion: 1,
    occurredAt: AT,
    metadata: { correlationId: null, causationId: null },
    ...overrides,
    type: event.type,
    data: event.data,
  } as unknown as EventEnvelope<E>;
}
