/*
 * What the console reads from the three services' HTTP APIs (docs/openapi/*.yaml). The console is a client like any
 * other: these are its own declarations of the parts it uses, not imports from the services.
 */

export type Role = 'operator' | 'auditor' | 'account-admin' | 'reader' | 'metrics';

/** GET /me (sync agent). */
export interface Principal {
  readonly keyId: string;
  readonly role: Role;
  readonly accountId: string | null;
}

export interface Gap {
  readonly code: string;
  readonly severity: 'blocking' | 'warning';
  readonly sku?: string;
  readonly detail: string;
}

export interface StatefulSync {
  readonly enabled: boolean;
  readonly reason: string | null;
}

/** GET /pairs/{pairId}/failover-readiness, and each entry of GET /pairs/readiness (with its account). */
export interface ReadinessReport {
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly ready: boolean;
  readonly checkedAt: string;
  readonly statefulSync: StatefulSync;
  readonly gaps: readonly Gap[];
  readonly accountId?: string | null;
}

export interface ReadinessPage {
  readonly accountId: string | null;
  readonly checkedAt: string;
  readonly pairs: readonly ReadinessReport[];
  readonly nextCursor: string | null;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

/** GET /pairs/{pairId} (pairing). */
export interface Pair {
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly model: string;
  readonly accountId: string;
  readonly status: 'associated' | 'dissociated';
  readonly associatedAt: string;
  readonly dissociatedAt: string | null;
}

export interface LicenseSource {
  readonly from: 'own' | 'primary';
  readonly serial: string;
  readonly licenseId: string;
  readonly expiresAt: string | null;
  readonly eventIds: readonly string[];
}

export interface EffectiveLicense {
  readonly sku: string;
  readonly category: string;
  readonly trial: boolean;
  readonly expiresAt: string | null;
  readonly expiringSoon: boolean;
  readonly sources: readonly LicenseSource[];
}

/** GET /products/{serial}/effective-licenses[?at=] (sync agent). */
export interface EffectiveSet {
  readonly serial: string;
  readonly role: 'primary' | 'secondary' | 'standalone';
  readonly peerSerial: string | null;
  readonly pairId: string | null;
  readonly licenses: readonly EffectiveLicense[];
  readonly statefulSync: StatefulSync;
}

/** A license (licensing). */
export interface License {
  readonly licenseId: string;
  readonly serial: string;
  readonly sku: string;
  readonly trial: boolean;
  readonly expiresAt: string | null;
  readonly status: 'active' | 'expired' | 'revoked';
  readonly grantedAt: string;
  readonly revokedAt: string | null;
}

export type LicenseChange = 'granted' | 'renewed' | 'revoked' | 'expired' | 'transferred';

/** One entry of GET /licenses/{licenseId}/history. */
export interface LicenseHistoryEntry {
  readonly eventId: string;
  readonly type: 'EntitlementChanged' | 'EntitlementExpiringSoon';
  readonly change: LicenseChange | null;
  readonly at: string;
  readonly effectiveAt: string;
  readonly actor: string | null;
  readonly license: Omit<License, 'status'> & { readonly status: 'active' | 'revoked' };
  readonly transferredFrom?: string;
}

/** A dead letter (sync agent and licensing). */
export interface DeadLetter {
  readonly id: number;
  readonly consumer: string;
  readonly reason: string;
  readonly detail: string;
  readonly stream: string;
  readonly streamSequence: number;
  readonly subject: string;
  readonly deliveries: number;
  readonly deadLetteredAt: string;
  readonly replayedAt: string | null;
}

export interface DeadLetterPage {
  readonly items: readonly DeadLetter[];
  readonly nextBefore: number | null;
}

/** The fields of every entry of GET /pairs/{pairId}/history and GET /products/{serial}/history (pairing). */
interface PairingHistoryEntryOf<T extends string, D> {
  readonly eventId: string;
  readonly streamVersion: number;
  readonly type: T;
  readonly at: string;
  /** The API key id whose request made the change; null for changes recorded before actors were. */
  readonly actor: string | null;
  readonly data: D;
}

/** One entry of GET /pairs/{pairId}/history. */
export type PairHistoryEntry =
  | PairingHistoryEntryOf<
      'ProductsAssociated',
      { readonly associatedAt: string; readonly replaces?: { readonly failedSerial: string } | null }
    >
  | PairingHistoryEntryOf<
      'ProductsDissociated',
      { readonly associatedAt: string; readonly dissociatedAt: string; readonly replacedBy?: string | null }
    >;

/** One entry of GET /products/{serial}/history. */
export type ProductHistoryEntry =
  | PairingHistoryEntryOf<'ProductRegistered', { readonly firmwareVersion: string; readonly registeredAt: string }>
  | PairingHistoryEntryOf<
      'ProductFirmwareChanged',
      { readonly previousFirmwareVersion: string; readonly firmwareVersion: string }
    >;
