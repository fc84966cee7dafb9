/**
 * The licensing API in-process (pairing beside it, also in-process: no build, no child processes), against the
 * real PostgreSQL and NATS. A grant, a renewal and a revocation each write the event and the license's row in one
 * statement; what the API answers, lists and publishes must agree, also when renewals race.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { busNames, type EventEnvelope } from '#shared/contracts';
import { startInProcess, streamMessages, type InProcessService } from '#shared/testing';
import { LICENSING_SERVICE, LicensingModule } from '../../apps/licensing/src/index.js';
import { PAIRING_SERVICE, PairingModule } from '../../apps/pairing/src/index.js';
import { driver } from '../support/driver.js';
import {
  NATS_URL,
  TEST_OPERATOR_KEY,
  api,
  deleteNamespaceStreams,
  dropSchemas,
  eventually,
  schemaOf,
  uniqueNamespace,
} from '../support/system.js';

const namespace = uniqueNamespace('license-commands');
const names = busNames(namespace);
let pairing: InProcessService;
let licensing: InProcessService;
let nc: NatsConnection;
const stories = driver(() => ({ pairing: pairing.url, licensing: licensing.url }), 'acct-in-process');
const licensingApi = () => api(licensing.url);

interface License {
  licenseId: string;
  serial: string;
  sku: string;
  expiresAt: string | null;
  status: string;
}

/** The licensing events published for a license, in stream order. */
async function publishedFor(licenseId: string): Promise<EventEnvelope[]> {
  const messages = await streamMessages(await jetstreamManager(nc), names.stream('licensing'));
  return messages
    .map((m) => m.json<EventEnvelope>())
    .filter((e) => (e.data as { license?: { licenseId: string } }).license?.licenseId === licenseId);
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

beforeAll(async () => {
  pairing = await startInProcess(PairingModule, PAIRING_SERVICE, namespace);
  licensing = await startInProcess(LicensingModule, LICENSING_SERVICE, namespace);
  nc = await connect({ servers: NATS_URL });
}, 60_000);

afterAll(async () => {
  await licensing?.close();
  await pairing?.close();
  await nc?.close();
  await deleteNamespaceStreams(namespace);
  await dropSchemas([schemaOf(namespace, 'pairing'), schemaOf(namespace, 'licensing')]);
});

describe('licensing API in-process', () => {
  it('grants a license: 201, listed on its product, and published once with the caller as actor and the request’s correlation id', async () => {
    const serial = await stories.register();
    const expiresAt = inDays(365);
    const correlationId = `grant-${serial}`;
    const before = Date.now();
    const granted = await licensingApi().request<License>(
      'POST',
      `/products/${serial}/licenses`,
      { sku: 'GATEWAY_AV', expiresAt },
      { 'x-correlation-id': correlationId },
    );
    expect(granted.status).toBe(201);
    expect(granted.body).toMatchObject({ serial, sku: 'GATEWAY_AV', expiresAt, status: 'active' });

    const listed = await licensingApi().get<{ licenses: License[] }>(`/products/${serial}/licenses`);
    expect(listed.body.licenses).toEqual([expect.objectContaining({ licenseId: granted.body.licenseId, expiresAt })]);

    const published = await eventually(async () => {
      const events = await publishedFor(granted.body.licenseId);
      expect(events).toHaveLength(1);
      return events;
    });
    expect(published[0]).toMatchObject({ type: 'EntitlementChanged', streamVersion: 1 });
    expect(published[0]!.metadata).toMatchObject({ actor: 'bootstrap-operator', correlationId });
    expect(Date.parse(published[0]!.occurredAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(published[0]!.occurredAt)).toBeLessThanOrEqual(Date.now());
    expect(JSON.stringify(published[0])).not.toContain(TEST_OPERATOR_KEY);
  });

  it('renews and revokes: the list follows each change, and a revoked license is not renewed (409)', async () => {
    const serial = await stories.register();
    const granted = await licensingApi().post<License>(`/products/${serial}/licenses`, { sku: 'IPS', expiresAt: inDays(90) });
    const { licenseId } = granted.body;
    const later = inDays(400);
    expect((await licensingApi().post(`/licenses/${licenseId}/renewals`, { expiresAt: later })).status).toBe(201);
    expect((await licensingApi().get<{ licenses: License[] }>(`/products/${serial}/licenses`)).body.licenses[0]).toMatchObject({
      expiresAt: later,
      status: 'active',
    });

    const revoked = await licensingApi().delete<License>(`/licenses/${licenseId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    expect((await licensingApi().get<{ licenses: License[] }>(`/products/${serial}/licenses`)).body.licenses[0]).toMatchObject({
      status: 'revoked',
    });
    const refused = await licensingApi().post<{ code: string }>(`/licenses/${licenseId}/renewals`, {
      expiresAt: inDays(500),
    });
    expect(refused).toMatchObject({ status: 409, body: { code: 'LICENSE_REVOKED' } });
    await eventually(async () => {
      expect((await publishedFor(licenseId)).map((e) => e.streamVersion)).toEqual([1, 2, 3]);
      return true;
    });
  });

  it('applies renewals that race one after the other: each is decided on the stream as it is, and the list shows the last', async () => {
    const serial = await stories.register();
    const granted = await licensingApi().post<License>(`/products/${serial}/licenses`, {
      sku: 'CAPTURE_ATP',
      expiresAt: inDays(90),
    });
    const { licenseId } = granted.body;
    const expiries = [100, 200, 300, 400, 500, 600].map(inDays);
    const answers = await Promise.all(
      expiries.map((expiresAt) => licensingApi().post<{ code?: string }>(`/licenses/${licenseId}/renewals`, { expiresAt })),
    );
    // A renewal that lost the race to a later one is refused by the rule it then breaks, never by the race itself.
    const applied = answers.filter((a) => a.status === 201).length;
    for (const answer of answers.filter((a) => a.status !== 201))
      expect(answer).toMatchObject({ status: 409, body: { code: 'RENEWAL_NOT_LATER' } });
    expect(applied).toBeGreaterThanOrEqual(1);

    const events = await eventually(async () => {
      const published = await publishedFor(licenseId);
      expect(published.map((e) => e.streamVersion)).toEqual(Array.from({ length: 1 + applied }, (_, i) => i + 1));
      return published;
    });
    const expiryOf = (e: EventEnvelope) => (e.data as { license: { expiresAt: string } }).license.expiresAt;
    const published = events.map(expiryOf);
    expect([...published].sort()).toEqual(published);
    expect(new Set(published).size).toBe(published.length);
    const listed = (await licensingApi().get<{ licenses: License[] }>(`/products/${serial}/licenses`)).body.licenses[0]!;
    expect(listed.expiresAt).toBe(published.at(-1));
  });

  it('refuses a body with an unknown field (400) and stores nothing', async () => {
    const serial = await stories.register();
    const refused = await licensingApi().post<{ status: number }>(`/products/${serial}/licenses`, { sku: 'IPS', seats: 5 });
    expect(refused.status).toBe(400);
    expect((await licensingApi().get<{ licenses: License[] }>(`/products/${serial}/licenses`)).body.licenses).toEqual([]);
  });
});
