/**
 * The pair page's pairing changes as data: the pair's association and dissociation (drawn as lines across the
 * timeline) and each unit's registration and firmware changes, each with who made it. Pure, from pairing's histories.
 */
import type { PairHistoryEntry, ProductHistoryEntry } from './types';

/** One pairing change on the pair page. */
export interface PairingChange {
  readonly key: string;
  readonly at: number;
  /** `pair`, or the unit's role and serial. */
  readonly unit: string;
  readonly label: string;
  /** The API key id that made it; null when not recorded. */
  readonly actor: string | null;
  /** Drawn as a line across the timeline (the pair's own changes); the units' changes are listed only. */
  readonly line: boolean;
}

/** A unit's pairing history. */
export interface UnitHistory {
  readonly unit: 'primary' | 'secondary';
  readonly serial: string;
  readonly events: readonly ProductHistoryEntry[];
}

/** The pair's and its units' changes, oldest first. */
export function pairingChanges(pair: readonly PairHistoryEntry[], units: readonly UnitHistory[]): PairingChange[] {
  const changes: PairingChange[] = pair.map((e) => ({
    key: e.eventId,
    at: Date.parse(e.type === 'ProductsAssociated' ? e.data.associatedAt : e.data.dissociatedAt),
    unit: 'pair',
    label: pairLabel(e),
    actor: e.actor,
    line: true,
  }));
  for (const { unit, serial, events } of units)
    for (const e of events)
      changes.push({
        key: e.eventId,
        at: Date.parse(e.at),
        unit: `${unit} ${serial}`,
        label:
          e.type === 'ProductRegistered'
            ? `registered (firmware ${e.data.firmwareVersion})`
            : `firmware ${e.data.previousFirmwareVersion} → ${e.data.firmwareVersion}`,
        actor: e.actor,
        line: false,
      });
  return changes.sort((a, b) => a.at - b.at || a.key.localeCompare(b.key));
}

function pairLabel(e: PairHistoryEntry): string {
  if (e.type === 'ProductsAssociated')
    return e.data.replaces ? `associated (replacing failed unit ${e.data.replaces.failedSerial})` : 'associated';
  return e.data.replacedBy ? `dissociated (replaced by pair ${e.data.replacedBy})` : 'dissociated';
}
