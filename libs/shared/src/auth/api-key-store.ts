import { randomUUID } from 'node:crypto';
import { sqlMigration } from '../database/migrations.js';
import type { EventStore } from '../event-store/event-store.js';
import { generateApiKey, hashApiKey, sameHash, type ApiKeyRole, type Principal } from './api-keys.js';

/**
 * api_keys: the keys pairing hands out. Plain rows, not events: a key is access control, not a business
 * fact, and a revocation must take effect at once rather than through a projection. Only the SHA-256 of
 * each key is kept; `key_prefix` (the first 9 characters) lets a human tell keys apart in a listing.
 */
export const CreateApiKeys1764000000100 = sqlMigration('CreateApiKeys1764000000100', {
  up: [
    `
      CREATE TABLE api_keys (
        key_id     uuid        PRIMARY KEY,
        key_hash   text        NOT NULL UNIQUE,
        key_prefix text        NOT NULL,
        name       text        NOT NULL,
        role       text        NOT NULL CHECK (role IN ('operator', 'account-admin', 'reader', 'metrics')),
        account_id text,
        created_at timestamptz NOT NULL,
        created_by text        NOT NULL,
        revoked_at timestamptz,
        CHECK ((role IN ('account-admin', 'reader')) = (account_id IS NOT NULL))
      )`,
  ],
  down: ['DROP TABLE api_keys'],
});

/** Adds the `auditor` role (every account, read only); like operator and metrics keys, an auditor key has no account. */
export const AllowAuditorApiKeys1765000000000 = sqlMigration('AllowAuditorApiKeys1765000000000', {
  up: [
    `
      ALTER TABLE api_keys
        DROP CONSTRAINT api_keys_role_check,
        ADD CONSTRAINT api_keys_role_check CHECK (role IN ('operator', 'auditor', 'account-admin', 'reader', 'metrics'))`,
  ],
  down: [
    `
      ALTER TABLE api_keys
        DROP CONSTRAINT api_keys_role_check,
        ADD CONSTRAINT api_keys_role_check CHECK (role IN ('operator', 'account-admin', 'reader', 'metrics'))`,
  ],
});

/** A key as listed: everything but the secret. */
export interface ApiKeyView {
  keyId: string;
  name: string;
  role: ApiKeyRole;
  accountId: string | null;
  keyPrefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

interface ApiKeyRow {
  key_id: string;
  key_hash: string;
  key_prefix: string;
  name: string;
  role: ApiKeyRole;
  account_id: string | null;
  created_at: Date;
  created_by: string;
  revoked_at: Date | null;
}

function view(row: ApiKeyRow): ApiKeyView {
  return {
    keyId: row.key_id,
    name: row.name,
    role: row.role,
    accountId: row.account_id,
    keyPrefix: row.key_prefix,
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

/** The api_keys table of the owning service (pairing). */
export class ApiKeyStore {
  constructor(
    private readonly store: EventStore,
    /** Told each new key's hash once it is committed (pairing's verifier forgets that the hash was unknown). */
    private readonly created: (keyHash: string) => void = () => undefined,
  ) {}

  /** Creates a key; the secret is in the result and nowhere else. */
  async create(input: {
    name: string;
    role: ApiKeyRole;
    accountId: string | null;
    createdBy: string;
    now: Date;
  }): Promise<ApiKeyView & { apiKey: string }> {
    const apiKey = generateApiKey();
    const rows: ApiKeyRow[] = await this.store.transaction((tx) =>
      tx.query(
        `INSERT INTO api_keys (key_id, key_hash, key_prefix, name, role, account_id, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [
          randomUUID(),
          hashApiKey(apiKey),
          apiKey.slice(0, 9),
          input.name,
          input.role,
          input.accountId,
          input.now,
          input.createdBy,
        ],
      ),
    );
    this.created(hashApiKey(apiKey));
    return { ...view(rows[0]!), apiKey };
  }

  /** Every key (revoked ones too), newest first, optionally of one account. */
  async list(accountId?: string): Promise<ApiKeyView[]> {
    const rows: ApiKeyRow[] = await this.store.transaction((tx) =>
      accountId === undefined
        ? tx.query('SELECT * FROM api_keys ORDER BY created_at DESC, key_id')
        : tx.query('SELECT * FROM api_keys WHERE account_id = $1 ORDER BY created_at DESC, key_id', [accountId]),
    );
    return rows.map(view);
  }

  /** Revokes a key (idempotent: a second revocation keeps the first instant); null when there is no such key. */
  async revoke(keyId: string, now: Date): Promise<ApiKeyView | null> {
    // As a CTE so that the driver answers rows (TypeORM answers an UPDATE as [rows, count]).
    const rows: ApiKeyRow[] = await this.store.transaction((tx) =>
      tx.query(
        `WITH revoked AS (UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE key_id = $1 RETURNING *)
         SELECT * FROM revoked`,
        [keyId, now],
      ),
    );
    return rows[0] ? view(rows[0]) : null;
  }

  /** The holder of an active key with this hash, or null. */
  async findActive(keyHash: string): Promise<Principal | null> {
    const rows: ApiKeyRow[] = await this.store.transaction((tx) =>
      tx.query('SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [keyHash]),
    );
    const row = rows[0];
    // The index found the row by equality; the constant-time comparison keeps the check itself timing-free.
    if (!row || !sameHash(row.key_hash, keyHash)) return null;
    return { keyId: row.key_id, role: row.role, accountId: row.account_id };
  }
}
