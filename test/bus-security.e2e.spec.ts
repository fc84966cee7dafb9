/**
 * The locked-down bus end to end: a nats-server of this file's own running the repository's permissions
 * (deploy/nats/permissions.conf), streams and durables made by `bus:setup` with the admin user, and the three
 * services each on its own bus user. Then a client holding valid bus credentials but no signing key publishes
 * forged grants, tampered copies of real events, a moved event and a replay: no effective set changes, and the
 * consumers count every attempt as rejected, by reason.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { busNames, type EffectiveLicenseSetV1, type EventEnvelope, type LicenseStateV1 } from '#shared/contracts';
import { EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER, signEvent } from '#shared';
import { startSecureNatsServer, testEnvelope, sampleEvent, type BusUser, type SecureNatsServer } from '#shared/testing';
import {
  REPO_ROOT,
  api,
  developmentSigningKey,
  eventually,
  randomSerial,
  startSystem,
  type Api,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(120_000);

const names = busNames(''); // the permissions are written for the production namespace; the server is ours alone
let bus: SecureNatsServer;
let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;
/** The attacker: the licensing service's bus credentials (it may publish licensing.>), but no signing key. */
let attacker: NatsConnection;
let attackerJs: JetStreamClient;

const { register } = driver(() => system, 'acct-bus');

beforeAll(async () => {
  bus = await startSecureNatsServer();
  const userEnv = (user: BusUser) => ({ NATS_URL: bus.url, NATS_USER: user, NATS_PASSWORD: bus.passwords[user] });
  await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'bus-setup.js')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...userEnv('bus-admin') },
  });
  system = await startSystem('bus_security', {
    env: { BUS_NAMESPACE: '' },
    envOf: (service) => userEnv(service),
    readyTimeoutMs: 90_000,
  });
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
  attacker = await connect({
    servers: bus.url,
    user: 'licensing',
    pass: bus.passwords.licensing,
    inboxPrefix: '_INBOX_licensing',
  });
  attackerJs = jetstream(attacker);
}, 120_000);

afterAll(async () => {
  await attacker?.close();
  await system?.stop().catch(() => undefined);
  await bus?.dispose();
}, 60_000);

/** Counters of a service's /metrics, by reason, for ha_license_sync_events_rejected_total. */
async function rejected(url: string): Promise<Record<string, number>> {
  const text = (await api(url).get<string>('/metrics')).body;
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^ha_license_sync_events_rejected_total\{[^}]*reason="([a-z_]+)"[^}]*\} (\d+)/gm))
    counts[match[1]!] = Number(match[2]);
  return counts;
}

describe('on the locked-down bus', () => {
  let primary: string;
  let secondary: string;
  let realGrant: { subject: string; body: Uint8Array; headers: MsgHdrs };

  it('every service does its job with its own bus user: lookup, publish, consume, project', async () => {
    primary = await register();
    secondary = await register();
    expect((await pairing.post('/pairs', { primarySerial: primary, secondarySerial: secondary })).status).toBe(201);
    // A grant asks pairing over request/reply (licensing's inbox), then flows licensing → sync agent.
    expect((await licensing.post(`/products/${primary}/licenses`, { sku: 'GATEWAY_AV' })).status).toBe(201);
    await eventually(
      async () => {
        const set = (await syncAgent.get<EffectiveLicenseSetV1>(`/products/${secondary}/effective-licenses`)).body;
        expect(set.licenses.map((l) => l.sku)).toEqual(['GATEWAY_AV']);
        return true;
      },
      { description: "the Primary's grant shared with the Secondary", timeoutMs: 20_000 },
    );
    const adminNc = await connect({ servers: bus.url, user: 'bus-admin', pass: bus.passwords['bus-admin'] });
    try {
      const jsm = await jetstreamManager(adminNc);
      const stored = (await jsm.streams.getMessage('LICENSING', { seq: (await jsm.streams.info('LICENSING')).state.last_seq }))!;
      expect(stored.header.get(EVENT_KEY_ID_HEADER)).toBe(developmentSigningKey('licensing').kid);
      realGrant = { subject: stored.subject, body: stored.data, headers: stored.header };
    } finally {
      await adminNc.close();
    }
    expect(await rejected(system.syncAgent)).toEqual({});
  });

  it('a client with valid bus credentials but no signing key changes no effective set, and every attempt is rejected, counted and dead-lettered', async () => {
    const before = await Promise.all([primary, secondary].map((s) => syncAgent.get(`/products/${s}/effective-licenses`)));
    const historyBefore = (await syncAgent.get(`/products/${secondary}/effective-licenses/history`)).body.items.length;
    const real = JSON.parse(Buffer.from(realGrant.body).toString()) as EventEnvelope & { data: { license: LicenseStateV1 } };
    const forgedGrant = testEnvelope(
      sampleEvent('EntitlementChanged', {
        license: { ...real.data.license, licenseId: randomUUID(), sku: 'IPS', serial: secondary },
        change: 'granted',
      }),
      { streamId: `license-${randomUUID()}`, streamVersion: 1 },
    ) as EventEnvelope;
    const attackerKey = generateKeyPairSync('ed25519').privateKey;
    const signedBy = (kid: string, envelope: EventEnvelope) => {
      const subject = names.subjectOf(envelope);
      const { body, keyId, signature } = signEvent(envelope, subject, { kid, privateKey: attackerKey });
      return { subject, body, headers: signatureHeaders(keyId, signature) };
    };
    type Grant = EventEnvelope & { data: { license: LicenseStateV1 } };
    const tampered = (change: (json: Grant) => void) => {
      const json = JSON.parse(Buffer.from(realGrant.body).toString()) as Grant;
      change(json);
      return { subject: realGrant.subject, body: Buffer.from(JSON.stringify(json)), headers: realGrant.headers };
    };
    const attempts: { reason: string; subject: string; body: Uint8Array; headers?: MsgHdrs }[] = [
      { reason: 'unsigned', ...{ subject: names.subjectOf(forgedGrant), body: Buffer.from(JSON.stringify(forgedGrant)) } },
      { reason: 'unknown_key', ...signedBy('licensing/attacker', forgedGrant) },
      { reason: 'bad_signature', ...signedBy(developmentSigningKey('licensing').kid, forgedGrant) },
      { reason: 'bad_signature', ...tampered((j) => (j.data.license.sku = 'CAPTURE_ATP')) },
      { reason: 'bad_signature', ...tampered((j) => (j.data.license.expiresAt = '2099-01-01T00:00:00.000Z')) },
      { reason: 'moved', ...realGrant, subject: `licensing.v1.entitlement-changed.${secondary}` },
      { reason: 'replayed', ...realGrant },
    ];
    for (const attempt of attempts) {
      // A new message id each time, so JetStream's de-duplication is not what stops them.
      const ack = await attackerJs.publish(attempt.subject, attempt.body, {
        msgID: randomUUID(),
        ...(attempt.headers ? { headers: attempt.headers } : {}),
      });
      expect(ack.duplicate).toBe(false);
    }
    const expected = { unsigned: 1, unknown_key: 1, bad_signature: 3, moved: 1, replayed: 1 };
    await eventually(async () => (expect(await rejected(system.syncAgent)).toEqual(expected), true), {
      description: 'every attempt rejected by the sync agent',
      timeoutMs: 20_000,
    });
    // Each one is in the dead-letter stream with its reason, the replay included.
    const letters = await eventually(
      async () => {
        const { items } = (await syncAgent.get<{ items: { id: number; reason: string }[] }>('/dead-letters?limit=100')).body;
        return items.length >= attempts.length && items;
      },
      { description: 'every attempt dead-lettered', timeoutMs: 20_000 },
    );
    const lettersByReason: Record<string, number> = {};
    for (const { reason } of letters) lettersByReason[reason] = (lettersByReason[reason] ?? 0) + 1;
    expect(lettersByReason).toEqual(Object.fromEntries(Object.entries(expected).map(([r, n]) => [r.toUpperCase(), n])));
    // An operator replaying a letter cannot apply what the consumer refused: the signature is checked again.
    for (const letter of letters) {
      const replay = await syncAgent.post<{ code: string; detail: string }>(`/dead-letters/${letter.id}/replay`);
      expect({ reason: letter.reason, status: replay.status, code: replay.body.code }).toEqual({
        reason: letter.reason,
        status: 422,
        code: 'DEAD_LETTER_STILL_INVALID',
      });
    }
    const after = await Promise.all([primary, secondary].map((s) => syncAgent.get(`/products/${s}/effective-licenses`)));
    expect(after.map((r) => r.body)).toEqual(before.map((r) => r.body));
    expect((await syncAgent.get(`/products/${secondary}/effective-licenses/history`)).body.items).toHaveLength(historyBefore);
  });

  it("a forged replacement on pairing's subjects moves no license in licensing", async () => {
    const pairingNc = await connect({
      servers: bus.url,
      user: 'pairing',
      pass: bus.passwords.pairing,
      inboxPrefix: '_INBOX_pairing',
    });
    try {
      const thief = await register();
      const forged = testEnvelope(
        sampleEvent('ProductsAssociated', {
          pairId: randomUUID(),
          primarySerial: thief,
          secondarySerial: randomSerial(),
          model: 'NSA 2700',
          accountId: 'acct-bus',
          replaces: { pairId: randomUUID(), failedSerial: primary, replacementSerial: thief, successorSerial: thief },
        }),
      );
      await jetstream(pairingNc).publish(names.subjectOf(forged), JSON.stringify(forged), { msgID: randomUUID() });
      await eventually(async () => (expect((await rejected(system.licensing)).unsigned).toBe(1), true), {
        description: 'licensing rejected the unsigned replacement',
        timeoutMs: 20_000,
      });
      const licenses = (await licensing.get<{ licenses: LicenseStateV1[] }>(`/products/${primary}/licenses`)).body.licenses;
      expect(licenses.map((l) => [l.sku, l.serial])).toEqual([['GATEWAY_AV', primary]]);
      expect((await licensing.get(`/products/${thief}/licenses`)).body.licenses).toEqual([]);
    } finally {
      await pairingNc.close();
    }
  });
});

function signatureHeaders(keyId: string, signature: string): MsgHdrs {
  const h = headers();
  h.set(EVENT_KEY_ID_HEADER, keyId);
  h.set(EVENT_SIGNATURE_HEADER, signature);
  return h;
}
