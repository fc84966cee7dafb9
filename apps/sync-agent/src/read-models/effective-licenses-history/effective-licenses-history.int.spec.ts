import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type EffectiveLicenseSetV1,
  type EventEnvelope,
  type LicenseStateV1,
  type PublishedEvent,
  type SyncAgentEvent,
} from '#shared';
import { createTestEventStore, type TestEventStore } from '#shared/testing';
import { applyEvent, emptyProjection, namedSerials } from '../../domain/effective-licenses/projection.js';
import { SYNC_AGENT_MIGRATIONS } from '../../infrastructure/migrations.js';
import { effectiveLicensesStreamId } from '../../domain/effective-licenses/publication.js';
import { saveChangedFacts } from '../../facts/facts-store.js';
import { effectiveSetAt, loadConsumedEvents } from '../../facts/inbox.js';
import { isKnownProduct, readHistoryPage } from './effective-licenses-history.query.js';

const P = 'C0EAE4000001';
const S = 'C0EAE4000002';
const STRANGER = 'C0EAE40000FF';
const PAIR_ID = '00000000-0000-4000-8000-000000000001';
const LICENSE_ID = '00000000-0000-4000-8000-00000000000a';

let db: TestEventStore;

beforeAll(async () => {
  db = await createTestEventStore('sync_history', SYNC_AGENT_MIGRATIONS);
});

afterAll(async () => {
  await db?.dispose();
});

let ids = 0;
const versions = new Map<string, number>();
function envelope(occurredAt: string, streamId: string, event: PublishedEvent): EventEnvelope {
  const streamVersion = (versions.get(streamId) ?? 0) + 1;
  versions.set(streamId, streamVersion);
  const eventId = `00000000-0000-4000-9000-${(++ids).toString(16).padStart(12, '0')}`;
  return {
    eventId,
    schemaVersion: 1,
    streamId,
    streamVersion,
    occurredAt,
    metadata: { correlationId: null, causationId: null },
    ...event,
  };
}

const registered = (at: string, serial: string) =>
  envelope(at, `product-${serial}`, {
    type: 'ProductRegistered',
    data: { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'acme', registeredAt: at },
  });
const pair = { pairId: PAIR_ID, primarySerial: P, secondarySerial: S, model: 'NSA 2700', accountId: 'acme' };
const associated = (at: string) =>
  envelope(at, `pair-${PAIR_ID}`, { type: 'ProductsAssociated', data: { ...pair, associatedAt: at } });
const dissociated = (at: string, associatedAt: string) =>
  envelope(at, `pair-${PAIR_ID}`, { type: 'ProductsDissociated', data: { ...pair, associatedAt, dissociatedAt: at } });
function licensed(at: string, change: 'granted' | 'renewed', expiresAt: string): EventEnvelope {
  const license: LicenseStateV1 = {
    licenseId: LICENSE_ID,
    serial: P,
    sku: 'GATEWAY_AV',
    trial: false,
    expiresAt,
    status: 'active',
    grantedAt: '2025-01-10T00:00:00.000Z',
    revokedAt: null,
  };
  return envelope(at, `license-${LICENSE_ID}`, { type: 'EntitlementChanged', data: { change, license, changedAt: at } });
}

/** Puts events in the inbox as the projector records them (the envelope, its instant, the serials it names). */
async function consumed(events: readonly EventEnvelope[]): Promise<void> {
  for (const e of events) {
    await db.dataSource.query(
      `INSERT INTO inbox (event_id, event_type, stream_id, stream_version, occurred_at, serials, envelope)
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7::jsonb)`,
      [e.eventId, e.type, e.streamId, e.streamVersion, e.occurredAt, namedSerials(e), JSON.stringify(e)],
    );
  }
}

const skus = (set: EffectiveLicenseSetV1 | null) =>
  set && { role: set.role, licenses: set.licenses.map((l) => `${l.sku} ${l.expiresAt}`) };

describe('"as of" from the inbox', () => {
  beforeAll(async () => {
    // A stranger's events never concern S.
    await consumed([
      registered('2025-01-01T00:00:00.000Z', STRANGER),
      registered('2025-01-01T00:00:00.000Z', P),
      registered('2025-01-01T00:00:00.000Z', S),
      licensed('2025-01-10T00:00:00.000Z', 'granted', '2026-01-01T00:00:00.000Z'),
      associated('2025-02-01T00:00:00.000Z'),
      licensed('2025-03-01T00:00:00.000Z', 'renewed', '2027-01-01T00:00:00.000Z'),
      dissociated('2025-04-01T00:00:00.000Z', '2025-02-01T00:00:00.000Z'),
    ]);
  });

  it.each([
    { at: '2024-12-31T00:00:00.000Z', then: null },
    { at: '2025-01-20T00:00:00.000Z', then: { role: 'standalone', licenses: [] } },
    { at: '2025-02-01T00:00:00.000Z', then: { role: 'secondary', licenses: ['GATEWAY_AV 2026-01-01T00:00:00.000Z'] } },
    { at: '2025-03-01T01:00:00.000+01:00', then: { role: 'secondary', licenses: ['GATEWAY_AV 2027-01-01T00:00:00.000Z'] } },
    { at: '2025-04-01T00:00:00.000Z', then: { role: 'standalone', licenses: [] } },
  ])('answers the Secondary’s set at $at', async ({ at, then }) => {
    const set = await db.store.transaction((tx) => effectiveSetAt(tx, S, new Date(at)));
    expect(skus(set)).toEqual(then);
  });

  it('loads only the events of the serials asked about, up to the instant, leaving out those already seen', async () => {
    const [first, ...rest] = await db.store.transaction((tx) =>
      loadConsumedEvents(tx, [S], new Date('2025-03-15T00:00:00.000Z'), new Set()),
    );
    expect([first, ...rest].map((e) => e!.envelope.type)).toEqual(['ProductRegistered', 'ProductsAssociated']);
    expect(first!.serials).toEqual([S]);

    const again = await db.store.transaction((tx) =>
      loadConsumedEvents(tx, [S, P], new Date('2025-03-15T00:00:00.000Z'), new Set([first!.envelope.eventId])),
    );
    expect(again.map((e) => e.envelope.type)).toEqual([
      'ProductRegistered',
      'EntitlementChanged',
      'ProductsAssociated',
      'EntitlementChanged',
    ]);
  });
});

describe('the history of an effective set', () => {
  const stream = effectiveLicensesStreamId(S);
  const change = (n: number): SyncAgentEvent => ({
    type: 'EffectiveLicensesChanged',
    data: {
      serial: S,
      added: n % 2 === 1 ? ['GATEWAY_AV'] : [],
      removed: n % 2 === 0 ? ['GATEWAY_AV'] : [],
      changed: [],
      set: {
        serial: S,
        role: 'standalone',
        peerSerial: null,
        pairId: null,
        licenses: [],
        statefulSync: { enabled: false, reason: 'NOT_PAIRED' },
      },
      cause: {
        eventId: `00000000-0000-4000-a000-00000000000${n}`,
        type: n % 2 === 1 ? 'ProductsAssociated' : 'ProductsDissociated',
      },
      computedAt: `2025-0${n}-01T00:00:00.000Z`,
    },
  });

  beforeAll(async () => {
    await db.store.transaction(async (tx) => {
      await saveChangedFacts(tx, emptyProjection(), applyEvent(emptyProjection(), registered('2025-01-01T00:00:00.000Z', S)));
      for (let n = 1; n <= 5; n++) {
        await db.store.append(tx, stream, n - 1, [change(n)], {
          occurredAt: new Date(`2025-0${n}-01T00:00:00.000Z`),
          // The second change was made by an API key; the first by nobody known.
          metadata: { correlationId: null, causationId: null, ...(n === 2 ? { actor: 'key-of-change-2' } : {}) },
        });
      }
      // Another product's history is not this one's.
      await db.store.append(tx, effectiveLicensesStreamId(P), 0, [change(1)], {
        occurredAt: new Date(),
        metadata: { correlationId: null, causationId: null },
      });
    });
  });

  it('lists the changes oldest first with time, cause, actor and SKUs, in pages', async () => {
    const first = await db.store.transaction((tx) => readHistoryPage(tx, S, 0, 2));
    expect(first).toEqual({
      serial: S,
      items: [
        {
          version: 1,
          at: '2025-01-01T00:00:00.000Z',
          cause: { type: 'ProductsAssociated', eventId: '00000000-0000-4000-a000-000000000001' },
          actor: null,
          added: ['GATEWAY_AV'],
          removed: [],
          changed: [],
        },
        {
          version: 2,
          at: '2025-02-01T00:00:00.000Z',
          cause: { type: 'ProductsDissociated', eventId: '00000000-0000-4000-a000-000000000002' },
          actor: 'key-of-change-2',
          added: [],
          removed: ['GATEWAY_AV'],
          changed: [],
        },
      ],
      nextAfter: 2,
    });
    const second = await db.store.transaction((tx) => readHistoryPage(tx, S, 2, 2));
    expect({ versions: second.items.map((i) => i.version), nextAfter: second.nextAfter }).toEqual({
      versions: [3, 4],
      nextAfter: 4,
    });
    const last = await db.store.transaction((tx) => readHistoryPage(tx, S, 4, 2));
    expect({ versions: last.items.map((i) => i.version), nextAfter: last.nextAfter }).toEqual({ versions: [5], nextAfter: null });
  });

  it('answers an exact last page with nextAfter null, and a page past the end empty', async () => {
    const all = await db.store.transaction((tx) => readHistoryPage(tx, S, 0, 5));
    expect({ count: all.items.length, nextAfter: all.nextAfter }).toEqual({ count: 5, nextAfter: null });
    const beyond = await db.store.transaction((tx) => readHistoryPage(tx, S, 5, 5));
    expect(beyond).toEqual({ serial: S, items: [], nextAfter: null });
  });

  it('knows the products it has seen registered, only those', async () => {
    expect(await db.store.transaction((tx) => isKnownProduct(tx, S))).toBe(true);
    expect(await db.store.transaction((tx) => isKnownProduct(tx, STRANGER))).toBe(false);
  });
});
