/**
 * GET /.well-known/event-signing-keys: each producing service publishes the public keys of its own events as a JWK
 * Set, without an API key, and a subscriber that knows nothing but that document verifies real messages with it.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { busNames, EventSigningKeySetV1, type EventSource } from '#shared/contracts';
import { EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER } from '#shared';
import { NATS_URL, api, eventually, startSystem, type RunningSystem } from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(60_000);

let system: RunningSystem;
beforeAll(async () => {
  system = await startSystem('event-keys');
}, 60_000);
afterAll(() => system?.stop(), 60_000);

/** The JWK Set a service publishes, fetched as a stranger would: no API key. */
async function keySetOf(source: EventSource): Promise<EventSigningKeySetV1> {
  const response = await api(system.urlOf(source), null).get<unknown>('/.well-known/event-signing-keys');
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('public, max-age=300');
  return EventSigningKeySetV1.parse(response.body);
}

describe('GET /.well-known/event-signing-keys', () => {
  it.each(['pairing', 'licensing', 'sync-agent'] as const)(
    '%s publishes its own public keys, each kid ending in its RFC 7638 thumbprint',
    async (source) => {
      const { keys } = await keySetOf(source);
      expect(keys.length).toBeGreaterThan(0);
      for (const jwk of keys) {
        expect(jwk.kid.startsWith(`${source}/`)).toBe(true);
        const thumbprint = createHash('sha256')
          .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }))
          .digest('base64url');
        expect(jwk.kid.endsWith(`~${thumbprint}`)).toBe(true);
        expect(Object.keys(jwk)).not.toContain('d');
      }
    },
  );

  it("verifies the services' real messages: every event's Event-Key-Id is in its producer's set, and its signature holds", async () => {
    const story = driver(() => system, 'acct-keys');
    const { primary } = await story.pair();
    await story.grant(primary, 'IPS');

    const names = busNames(system.namespace);
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      for (const source of ['pairing', 'licensing', 'sync-agent'] as const) {
        const stream = names.stream(source);
        // The sync agent publishes once it has applied the others' events.
        const lastSeq = await eventually(async () => (await jsm.streams.info(stream)).state.last_seq || false, {
          description: `a message on ${stream}`,
          timeoutMs: 15_000,
        });
        const keys = new Map((await keySetOf(source)).keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]));
        for (let seq = 1; seq <= lastSeq; seq++) {
          const message = await jsm.streams.getMessage(stream, { seq });
          const kid = message!.header.get(EVENT_KEY_ID_HEADER);
          const signature = Buffer.from(message!.header.get(EVENT_SIGNATURE_HEADER), 'base64');
          expect({ stream, seq, known: keys.has(kid) }).toEqual({ stream, seq, known: true });
          expect(verify(null, message!.data, keys.get(kid)!, signature)).toBe(true);
          // Tampering is caught by the same key.
          const tampered = Buffer.from(message!.data);
          const at = tampered.length - 2;
          tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
          expect(verify(null, tampered, keys.get(kid)!, signature)).toBe(false);
        }
      }
    } finally {
      await nc.close();
    }
  });
});
