import { describe, expect, it } from '@jest/globals';
import type { EventEnvelope, LicenseStateV1, ProductsAssociatedV1, PublishedEvent } from '#shared/contracts';
import {
  activePairOf,
  affectedSerials,
  applyEvent,
  effectiveSetOf,
  emptyProjection,
  type ProjectionState,
} from './projection.js';

const NOW = new Date('2025-06-01T00:00:00.000Z');
const A = 'C0EAE4000001';
const B = 'C0EAE4000002';
const C = 'C0EAE4000003';
const PAIR_AB = '00000000-0000-4000-8000-0000000000ab';
const PAIR_AC = '00000000-0000-4000-8000-0000000000ac';

let eventIds = 0;
function envelope(streamId: string, streamVersion: number, event: PublishedEvent): EventEnvelope {
  const eventId = `00000000-0000-4000-9000-${(++eventIds).toString(16).padStart(12, '0')}`;
  const metadata = { correlationId: null, causationId: null };
  return { eventId, schemaVersion: 1, streamId, streamVersion, occurredAt: '2025-01-01T00:00:00.000Z', metadata, ...event };
}

function registered(serial: string, firmwareVersion = '7.0.1', version = 1): EventEnvelope {
  const data = { serial, model: 'NSA 2700', firmwareVersion, accountId: 'acme', registeredAt: '2025-01-01T00:00:00.000Z' };
  return envelope(`product-${serial}`, version, { type: 'ProductRegistered', data });
}

function firmwareChanged(serial: string, firmwareVersion: string, version: number): EventEnvelope {
  const data = {
    serial,
    model: 'NSA 2700',
    accountId: 'acme',
    previousFirmwareVersion: '7.0.1',
    firmwareVersion,
    changedAt: '2025-02-01T00:00:00.000Z',
  };
  return envelope(`product-${serial}`, version, { type: 'ProductFirmwareChanged', data });
}

function pairOf(pairId: string, primarySerial: string, secondarySerial: string, associatedAt: string): ProductsAssociatedV1 {
  return { pairId, primarySerial, secondarySerial, model: 'NSA 2700', accountId: 'acme', associatedAt };
}

const AB = pairOf(PAIR_AB, A, B, '2025-02-01T00:00:00.000Z');
const AC = pairOf(PAIR_AC, A, C, '2025-03-01T00:00:00.000Z');
const associated = (pair: ProductsAssociatedV1) => envelope(`pair-${pair.pairId}`, 1, { type: 'ProductsAssociated', data: pair });
const dissociated = (pair: ProductsAssociatedV1) =>
  envelope(`pair-${pair.pairId}`, 2, {
    type: 'ProductsDissociated',
    data: { ...pair, dissociatedAt: '2025-04-01T00:00:00.000Z' },
  });

function entitlement(serial: string, sku: string, version = 1, patch: Partial<LicenseStateV1> = {}): EventEnvelope {
  const license: LicenseStateV1 = {
    licenseId: `00000000-0000-4000-8000-${serial.toLowerCase()}`,
    serial,
    sku,
    trial: false,
    expiresAt: null,
    status: 'active',
    grantedAt: '2025-01-01T00:00:00.000Z',
    revokedAt: null,
    ...patch,
  };
  const data = {
    change: version === 1 ? ('granted' as const) : ('renewed' as const),
    license,
    changedAt: '2025-01-01T00:00:00.000Z',
  };
  return envelope(`license-${license.licenseId}`, version, { type: 'EntitlementChanged', data });
}

function given(...events: EventEnvelope[]): ProjectionState {
  return events.reduce(applyEvent, emptyProjection());
}

describe('applyEvent', () => {
  describe('when an event is not newer than what is stored', () => {
    it('keeps the newer product facts when an older version arrives late', () => {
      const state = given(firmwareChanged(A, '4.2', 2), registered(A, '3.9', 1));
      expect(state.products.get(A)).toEqual({
        version: 2,
        facts: { serial: A, model: 'NSA 2700', firmwareVersion: '4.2', accountId: 'acme' },
      });
    });

    it('returns the very same state for a duplicate', () => {
      const event = registered(A);
      const state = given(event);
      expect(applyEvent(state, event)).toBe(state);
    });

    it('keeps a pair dissociated when its association arrives after the dissociation', () => {
      expect(activePairOf(given(dissociated(AB), associated(AB)), A)).toBeNull();
    });
  });

  describe('when an event is newer', () => {
    it('leaves the given state untouched', () => {
      const before = given(registered(A));
      applyEvent(before, firmwareChanged(A, '4.2', 2));
      expect(before.products.get(A)?.facts.firmwareVersion).toBe('7.0.1');
    });
  });

  describe('when the sync agent hears its own output', () => {
    it('ignores EffectiveLicensesChanged', () => {
      const state = given(registered(A));
      const set = effectiveSetOf(state, A, NOW);
      if (set === null) throw new Error('A is registered');
      const data = {
        serial: A,
        added: [],
        removed: [],
        changed: [],
        set,
        cause: { eventId: '00000000-0000-4000-8000-000000000000', type: 'ProductRegistered' },
        computedAt: NOW.toISOString(),
      };
      const output = envelope(`effective-${A}`, 1, { type: 'EffectiveLicensesChanged', data });
      expect(applyEvent(state, output)).toBe(state);
      expect(affectedSerials(state, output)).toEqual([]);
    });
  });
});

describe('activePairOf', () => {
  describe('when a superseded association still looks active', () => {
    it('picks the latest association for the re-paired unit', () => {
      expect(activePairOf(given(associated(AC), associated(AB)), A)?.pairId).toBe(PAIR_AC);
    });
  });
});

describe('effectiveSetOf', () => {
  describe('when the product is unknown', () => {
    it('has no set, even if licenses for it arrived', () => {
      expect(effectiveSetOf(given(entitlement(A, 'IPS')), A, NOW)).toBeNull();
    });
  });

  describe('when paired as Secondary', () => {
    it("receives the Primary's shareable licenses and shares its stateful sync status", () => {
      const state = given(registered(A), registered(B), associated(AB), entitlement(A, 'IPS'), entitlement(B, 'STATEFUL_SYNC'));
      expect(effectiveSetOf(state, B, NOW)).toMatchObject({
        role: 'secondary',
        peerSerial: A,
        licenses: [{ sku: 'IPS' }, { sku: 'STATEFUL_SYNC' }],
        statefulSync: { enabled: false, reason: 'NOT_LICENSED' },
      });
    });
  });
});

describe('affectedSerials', () => {
  describe('when paired', () => {
    it.each<{ behaviour: string; when: EventEnvelope; then: string[] }>([
      {
        behaviour: "includes the Secondary for a change of the Primary's licenses",
        when: entitlement(A, 'IPS', 2),
        then: [A, B],
      },
      {
        behaviour: "includes the Primary for a change of the Secondary's firmware",
        when: firmwareChanged(B, '4.0', 2),
        then: [A, B],
      },
      { behaviour: 'includes both members of a pair event', when: dissociated(AB), then: [A, B] },
    ])('$behaviour', ({ when, then }) => {
      expect(affectedSerials(given(registered(A), registered(B), associated(AB)), when)).toEqual(then);
    });
  });

  describe('when a superseded association still looks active', () => {
    it('includes the member of the superseded pair, which still sees the changed unit as its Primary', () => {
      const state = given(registered(A), registered(B), registered(C), associated(AB), associated(AC));
      expect(affectedSerials(state, entitlement(A, 'IPS', 2))).toEqual([A, B, C]);
    });
  });
});
