import { describe, expect, it } from '@jest/globals';
import type { EventEnvelope, LicenseStateV1, ProductsAssociatedV1, PublishedEvent } from '#shared/contracts';
import {
  activePairOf,
  affectedSerials,
  applyEvent,
  effectiveSetOf,
  emptyProjection,
  heldSerialsOf,
  holderOf,
  namedSerials,
  pairStatefulSyncOf,
  type ProjectionState,
} from './projection.js';
import { History } from './testing/history.js';

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

function licenseChanged(serial: string, sku: string, version = 1, patch: Partial<LicenseStateV1> = {}): EventEnvelope {
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
      const newer = firmwareChanged(A, '4.2', 2);
      const state = given(newer, registered(A, '3.9', 1));
      expect(state.products.get(A)).toEqual({
        version: 2,
        eventId: newer.eventId,
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
  describe('when a superseded pair still looks active', () => {
    it('picks the pair associated last for the re-paired unit', () => {
      expect(activePairOf(given(associated(AC), associated(AB)), A)?.pairId).toBe(PAIR_AC);
    });
  });
});

describe('effectiveSetOf', () => {
  describe('when the product is unknown', () => {
    it('has no set, even if licenses for it arrived', () => {
      expect(effectiveSetOf(given(licenseChanged(A, 'IPS')), A, NOW)).toBeNull();
    });
  });

  describe('when paired as Secondary', () => {
    it("receives the Primary's shareable licenses and shares its stateful sync status", () => {
      const state = given(
        registered(A),
        registered(B),
        associated(AB),
        licenseChanged(A, 'IPS'),
        licenseChanged(B, 'STATEFUL_SYNC'),
      );
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
        when: licenseChanged(A, 'IPS', 2),
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

  describe('when a superseded pair still looks active', () => {
    it('includes the member of the superseded pair, which still sees the changed unit as its Primary', () => {
      const state = given(registered(A), registered(B), registered(C), associated(AB), associated(AC));
      expect(affectedSerials(state, licenseChanged(A, 'IPS', 2))).toEqual([A, B, C]);
    });
  });
});

// ---- warnings, own output, replacements, transfers, stateful sync per pair ---------------------

const P = 'C0EAE4000011';
const S = 'C0EAE4000012';
const R = 'C0EAE4000013';
const X = 'C0EAE4000014';
const IN_A_YEAR = '2026-01-01T00:00:00.000Z';

/** P (Primary) and S (Secondary) paired, R and X registered alone; P holds IPS, STATEFUL_SYNC and consulting, S holds 8x5 support. */
function pairedHistory() {
  const h = new History(Date.parse('2025-01-01T00:00:00.000Z'), 7);
  for (const serial of [P, S, R, X]) h.register(serial);
  const pair = h.associate(P, S)!;
  const ips = h.grant(P, 'IPS', IN_A_YEAR);
  const sync = h.grant(P, 'STATEFUL_SYNC');
  const gms = h.grant(P, 'GMS_PREVENTIVE_MAINTENANCE', IN_A_YEAR);
  const support = h.grant(S, 'SUPPORT_8X5', IN_A_YEAR);
  return { h, pair, ips, sync, gms, support };
}

function stateOf(h: History, count = h.events.length): ProjectionState {
  return h.events.slice(0, count).reduce(applyEvent, emptyProjection());
}

/** SKU -> [source from, source serial] of a unit's set. */
function sourcesOf(state: ProjectionState, serial: string): Record<string, string[][]> {
  const set = effectiveSetOf(state, serial, NOW);
  if (set === null) throw new Error(`${serial} is unknown`);
  return Object.fromEntries(set.licenses.map((l) => [l.sku, l.sources.map((s) => [s.from, s.serial])]));
}

describe('applyEvent: warnings, own output, replacements, transfers', () => {
  describe('when licensing warns that a license expires soon', () => {
    it('keeps the warning as the newest state of the license, and names it as the provenance', () => {
      const { h, ips } = pairedHistory();
      const warning = h.warn(ips.licenseId)!;
      const state = stateOf(h);
      expect(state.licenses.get(ips.licenseId)).toEqual({ version: 2, eventId: warning.eventId, facts: ips });
      expect(effectiveSetOf(state, S, NOW)?.licenses.find((l) => l.sku === 'IPS')?.sources[0]?.eventIds).toEqual([
        warning.eventId,
        h.events.find((e) => e.type === 'ProductsAssociated')!.eventId,
      ]);
    });

    it('ignores a warning older than the stored license', () => {
      const { h, ips } = pairedHistory();
      const warning = h.warn(ips.licenseId)!;
      const renewal = h.renew(ips.licenseId, '2027-01-01T00:00:00.000Z')!;
      const state = given(...h.events.filter((e) => e !== warning), warning);
      expect(state.licenses.get(ips.licenseId)?.eventId).toBe(renewal.eventId);
    });
  });

  describe('when the sync agent hears its own StatefulSyncChanged', () => {
    it('ignores it', () => {
      const state = given(registered(A));
      const data = {
        pairId: PAIR_AB,
        primarySerial: A,
        secondarySerial: B,
        enabled: true,
        reason: null,
        cause: { eventId: '00000000-0000-4000-8000-000000000000', type: 'ProductsAssociated' },
        changedAt: NOW.toISOString(),
      };
      const output = envelope(`stateful-sync-${PAIR_AB}`, 1, { type: 'StatefulSyncChanged', data });
      expect(applyEvent(state, output)).toBe(state);
      expect(affectedSerials(state, output)).toEqual([]);
    });
  });

  describe('when a pair is formed by a replacement', () => {
    it('records the failed unit and its successor', () => {
      const { h } = pairedHistory();
      const { pair } = h.replace(P, R)!;
      expect(stateOf(h).successors.get(P)).toEqual([
        expect.objectContaining({ failedSerial: P, successorSerial: S, pairId: pair.pairId, since: pair.associatedAt }),
      ]);
    });

    it('records the replacement even when the association arrives after the dissociation of its pair', () => {
      const { h } = pairedHistory();
      const { pair } = h.replace(P, R)!;
      h.dissociate(S);
      const association = h.events.find((e) => e.type === 'ProductsAssociated' && e.data.pairId === pair.pairId)!;
      const state = given(...h.events.filter((e) => e !== association), association);
      expect(state.successors.get(P)?.map((s) => s.successorSerial)).toEqual([S]);
      expect(activePairOf(state, S)).toBeNull();
    });

    it('returns the very same state for a duplicate association', () => {
      const { h } = pairedHistory();
      h.replace(P, R);
      const state = stateOf(h);
      const association = h.events.findLast((e) => e.type === 'ProductsAssociated')!;
      expect(applyEvent(state, association)).toBe(state);
    });
  });
});

describe('namedSerials', () => {
  const { h, ips } = pairedHistory();
  const replaced = h.replace(P, R)!;
  const transfer = h.transfer(ips.licenseId, S)!;
  const warning = h.warn(ips.licenseId)!;
  const byType = (type: string) => h.events.find((e) => e.type === type)!;

  it.each<{ behaviour: string; when: EventEnvelope; then: string[] }>([
    { behaviour: "names a product event's serial", when: byType('ProductRegistered'), then: [P] },
    { behaviour: 'names both members of a pair', when: byType('ProductsAssociated'), then: [P, S] },
    {
      behaviour: 'names the members, the failed unit, the replacement and the successor of a replacement',
      when: h.events.find((e) => e.type === 'ProductsAssociated' && e.data.pairId === replaced.pair.pairId)!,
      then: [P, S, R],
    },
    { behaviour: "names a license's serial", when: byType('EntitlementChanged'), then: [P] },
    { behaviour: 'names both serials of a transfer', when: transfer, then: [P, S] },
    { behaviour: 'names the serial of a warned license', when: warning, then: [S] },
  ])('$behaviour', ({ when, then }) => {
    expect(namedSerials(when)).toEqual(then);
  });
});

describe('holderOf and heldSerialsOf', () => {
  it.each<{ behaviour: string; when: (h: History) => void; then: Record<string, { holder: string; held: string[] }> }>([
    {
      behaviour: 'a unit holds its own licenses when nothing was replaced',
      when: () => undefined,
      then: { [P]: { holder: P, held: [P] }, [S]: { holder: S, held: [S] } },
    },
    {
      behaviour: 'the old Secondary holds the failed Primary’s licenses, which holds none',
      when: (h) => h.replace(P, R),
      then: { [P]: { holder: S, held: [] }, [S]: { holder: S, held: [P, S] }, [R]: { holder: R, held: [R] } },
    },
    {
      behaviour: 'the replacement holds the failed Secondary’s licenses',
      when: (h) => h.replace(S, R),
      then: { [S]: { holder: R, held: [] }, [R]: { holder: R, held: [R, S] }, [P]: { holder: P, held: [P] } },
    },
    {
      behaviour: 'licenses follow a chain of replacements',
      when: (h) => {
        h.replace(P, R); // S succeeds P, pair (S, R)
        h.replace(S, X); // R becomes Primary and succeeds S, pair (R, X)
      },
      then: { [P]: { holder: R, held: [] }, [S]: { holder: R, held: [] }, [R]: { holder: R, held: [P, R, S] } },
    },
    {
      behaviour: 'a failed unit associated again afterwards (repaired) holds its licenses again',
      when: (h) => {
        h.replace(P, R);
        h.associate(P, X);
      },
      then: { [P]: { holder: P, held: [P] }, [S]: { holder: S, held: [S] } },
    },
  ])('$behaviour', ({ when, then }) => {
    const { h } = pairedHistory();
    when(h);
    const state = stateOf(h);
    for (const [serial, expected] of Object.entries(then)) {
      expect({ serial, holder: holderOf(state, serial), held: heldSerialsOf(state, serial) }).toEqual({
        serial,
        holder: expected.holder,
        held: [...expected.held].sort(),
      });
    }
  });
});

describe('effectiveSetOf after a replacement', () => {
  describe('when the Primary failed', () => {
    const scenario = () => {
      const setup = pairedHistory();
      const before = setup.h.events.length;
      const replaced = setup.h.replace(P, R)!;
      return { ...setup, before, replaced };
    };

    /**
     * The sources once the new pair is seen: S, now the Primary, holds the failed Primary's licenses, still recorded
     * on `licensesOn` (P until licensing transfers them to S), and shares them with R; P holds nothing.
     */
    const heldThrough = (licensesOn: string): Record<string, Record<string, string[][]>> => ({
      [S]: {
        GMS_PREVENTIVE_MAINTENANCE: [['own', licensesOn]],
        IPS: [['own', licensesOn]],
        STATEFUL_SYNC: [['own', licensesOn]],
        SUPPORT_8X5: [['own', S]],
      },
      [R]: { IPS: [['primary', licensesOn]], SUPPORT_8X5: [['primary', S]] },
      [P]: {},
    });

    it.each<{
      behaviour: string;
      events: (h: History, before: number) => number;
      then: Record<string, Record<string, string[][]>>;
    }>([
      {
        behaviour: 'the old Secondary holds every license of the failed Primary as its own as soon as the new pair is seen',
        events: (_h, before) => before + 1,
        then: heldThrough(P),
      },
      {
        behaviour: 'the old pair’s dissociation changes nothing',
        events: (h) => h.events.length,
        then: heldThrough(P),
      },
      {
        behaviour: 'licensing’s transfers only rename the serial in the sources: nothing doubled',
        events: (h) => {
          h.transferAll(P, S);
          return h.events.length;
        },
        then: heldThrough(S),
      },
    ])('$behaviour', ({ events, then }) => {
      const { h, before } = scenario();
      const state = stateOf(h, events(h, before));
      for (const [serial, expected] of Object.entries(then))
        expect({ serial, sources: sourcesOf(state, serial) }).toEqual({ serial, sources: expected });
    });

    it('keeps stateful sync on for the new pair through the failed Primary’s license', () => {
      const { h, before } = scenario();
      const state = stateOf(h, before + 1);
      expect(effectiveSetOf(state, R, NOW)).toMatchObject({
        role: 'secondary',
        peerSerial: S,
        statefulSync: { enabled: true, reason: null },
      });
      expect(effectiveSetOf(state, S, NOW)).toMatchObject({
        role: 'primary',
        peerSerial: R,
        statefulSync: { enabled: true, reason: null },
      });
    });
  });

  describe('when the Secondary failed', () => {
    it('the replacement holds the failed Secondary’s own licenses and receives the Primary’s', () => {
      const { h } = pairedHistory();
      h.replace(S, R);
      expect(sourcesOf(stateOf(h), R)).toEqual({ IPS: [['primary', P]], SUPPORT_8X5: [['own', S]] });
      h.transferAll(S, R);
      expect(sourcesOf(stateOf(h), R)).toEqual({ IPS: [['primary', P]], SUPPORT_8X5: [['own', R]] });
    });
  });
});

describe('affectedSerials', () => {
  it.each<{ behaviour: string; when: (h: History) => { state: ProjectionState; event: EventEnvelope }; then: string[] }>([
    {
      behaviour: 'includes the serial a transferred license was stored on, and both serials the event names',
      when: (h) => {
        const license = h.grant(X, 'IPS');
        const state = stateOf(h);
        h.transfer(license.licenseId, R); // never delivered
        return { state, event: h.transfer(license.licenseId, S)! };
      },
      then: [P, R, S, X],
    },
    {
      behaviour: "includes a failed unit's successor and the successor's peer for a change of the failed unit's license",
      when: (h) => {
        h.replace(P, R);
        const state = stateOf(h);
        return { state, event: h.revoke(h.licenses.find((l) => l.sku === 'IPS')!.licenseId)! };
      },
      then: [P, R, S],
    },
    {
      behaviour: 'includes the failed unit, its old pair and the new pair for a replacement',
      when: (h) => {
        const state = stateOf(h);
        h.replace(S, R);
        return { state, event: h.events.findLast((e) => e.type === 'ProductsAssociated')! };
      },
      then: [P, R, S],
    },
  ])('$behaviour', ({ when, then }) => {
    const { h } = pairedHistory();
    const { state, event } = when(h);
    expect(affectedSerials(state, event)).toEqual([...then].sort());
  });
});

describe('pairStatefulSyncOf', () => {
  it.each<{ behaviour: string; when: (h: History) => string; then: { enabled: boolean; reason: string | null } }>([
    {
      behaviour: 'is the status both units report for an active pair',
      when: (h) => h.pairOf(P)!.pairId,
      then: { enabled: true, reason: null },
    },
    {
      behaviour: 'is NOT_PAIRED for a dissociated pair',
      when: (h) => {
        const pairId = h.pairOf(P)!.pairId;
        h.dissociate(P);
        return pairId;
      },
      then: { enabled: false, reason: 'NOT_PAIRED' },
    },
    {
      behaviour: 'is NOT_PAIRED for a pair superseded by a replacement whose dissociation has not arrived',
      when: (h) => {
        const pairId = h.pairOf(P)!.pairId;
        h.replace(S, R);
        h.events.pop(); // the old pair's dissociation, not delivered yet
        return pairId;
      },
      then: { enabled: false, reason: 'NOT_PAIRED' },
    },
    {
      behaviour: 'stays enabled for the pair that replaced a failed Primary holding STATEFUL_SYNC',
      when: (h) => h.replace(P, R)!.pair.pairId,
      then: { enabled: true, reason: null },
    },
    {
      behaviour: 'is FIRMWARE_TOO_OLD after a downgrade of the Secondary',
      when: (h) => {
        h.changeFirmware(S, '3.9');
        return h.pairOf(P)!.pairId;
      },
      then: { enabled: false, reason: 'FIRMWARE_TOO_OLD' },
    },
    {
      behaviour: 'is NOT_LICENSED when the STATEFUL_SYNC license is revoked',
      when: (h) => {
        h.revoke(h.licenses.find((l) => l.sku === 'STATEFUL_SYNC')!.licenseId);
        return h.pairOf(P)!.pairId;
      },
      then: { enabled: false, reason: 'NOT_LICENSED' },
    },
  ])('$behaviour', ({ when, then }) => {
    const { h } = pairedHistory();
    const pairId = when(h);
    expect(pairStatefulSyncOf(stateOf(h), pairId, NOW)).toEqual(then);
  });
});
