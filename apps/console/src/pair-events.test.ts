import { describe, expect, it } from 'vitest';
import { pairingChanges } from './pair-events';
import type { PairHistoryEntry, ProductHistoryEntry } from './types';

const P = 'AAAAAAAAAAA1';
const S = 'AAAAAAAAAAA2';
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

const associated: PairHistoryEntry = {
  eventId: 'e3',
  streamVersion: 1,
  type: 'ProductsAssociated',
  at: at(3),
  actor: 'bootstrap-operator',
  data: { associatedAt: at(3) },
};
const dissociated: PairHistoryEntry = {
  eventId: 'e5',
  streamVersion: 2,
  type: 'ProductsDissociated',
  at: at(5),
  actor: 'key-2',
  data: { associatedAt: at(3), dissociatedAt: at(5), replacedBy: 'pair-2' },
};
const registered = (eventId: string, minute: number, actor: string | null): ProductHistoryEntry => ({
  eventId,
  streamVersion: 1,
  type: 'ProductRegistered',
  at: at(minute),
  actor,
  data: { firmwareVersion: '7.0.1', registeredAt: at(minute) },
});
const upgraded: ProductHistoryEntry = {
  eventId: 'e4',
  streamVersion: 2,
  type: 'ProductFirmwareChanged',
  at: at(4),
  actor: 'key-1',
  data: { previousFirmwareVersion: '7.0.1', firmwareVersion: '7.1.0' },
};

describe('pairingChanges', () => {
  it('lists the pair’s and the units’ changes oldest first, each with its actor; only the pair’s are lines', () => {
    const changes = pairingChanges(
      [associated, dissociated],
      [
        { unit: 'primary', serial: P, events: [registered('e1', 1, 'key-1'), upgraded] },
        { unit: 'secondary', serial: S, events: [registered('e2', 2, null)] },
      ],
    );
    expect(changes.map(({ unit, label, actor, line }) => [unit, label, actor, line])).toEqual([
      [`primary ${P}`, 'registered (firmware 7.0.1)', 'key-1', false],
      [`secondary ${S}`, 'registered (firmware 7.0.1)', null, false],
      ['pair', 'associated', 'bootstrap-operator', true],
      [`primary ${P}`, 'firmware 7.0.1 → 7.1.0', 'key-1', false],
      ['pair', 'dissociated (replaced by pair pair-2)', 'key-2', true],
    ]);
  });

  it('names the failed unit of a replacement', () => {
    const replacing: PairHistoryEntry = { ...associated, data: { associatedAt: at(3), replaces: { failedSerial: P } } };
    expect(pairingChanges([replacing], [])[0]?.label).toBe(`associated (replacing failed unit ${P})`);
  });
});
