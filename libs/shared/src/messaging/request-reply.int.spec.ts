/**
 * Signed request/reply on the real NATS server, with a rogue responder: an anonymous client that subscribes to the
 * request subject and answers first, forging an operator, or replaying an answer it saw pairing give before.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { busNames } from '../contracts/index.js';
import type { EventVerificationKey } from '../event-signing/event-signature.js';
import { testBusNamespace } from '../testing/index.js';
import { connectNats } from './nats-connection.js';
import {
  DependencyUnavailableError,
  REPLY_KEY_ID_HEADER,
  REPLY_SIGNATURE_HEADER,
  serveSignedRequests,
  SignedRpcClient,
} from './request-reply.js';

const Request = z.strictObject({ keyHash: z.string() });
const Reply = z.object({ role: z.string() }).nullable();

describe('signed request/reply with a rogue responder on the bus', () => {
  const names = busNames(testBusNamespace('signed-rpc'));
  const subject = names.apiKeyLookup;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = { kid: 'pairing/k1', privateKey };
  const keys = new Map<string, EventVerificationKey>([['pairing/k1', { kid: 'pairing/k1', source: 'pairing', publicKey }]]);
  let owner: NatsConnection;
  let asker: NatsConnection;
  let rogue: NatsConnection;
  let serving: Subscription | undefined;
  const forgeries: string[] = [];
  let client: SignedRpcClient;

  beforeAll(async () => {
    const connect = (name: string) => connectNats(['nats://127.0.0.1:4222'], `signed-rpc-${name}`);
    [owner, asker, rogue] = await Promise.all([connect('owner'), connect('asker'), connect('rogue')]);
    client = new SignedRpcClient({
      connection: () => asker,
      keys,
      owner: 'pairing',
      dependency: 'the pairing service',
      timeoutMs: 500,
      onForgery: (_subject, detail) => forgeries.push(detail),
    });
  });

  afterAll(async () => {
    serving?.unsubscribe();
    await Promise.all([owner, asker, rogue].map((nc) => nc?.close()));
  });

  /** pairing's own responder; `delayMs` makes its answer come after a rogue's immediate one. */
  function serveGenuine(delayMs = 0): void {
    serving = serveSignedRequests(owner, {
      subject,
      queue: 'pairing',
      signer,
      requestSchema: Request,
      handle: async ({ keyHash }) => {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        return keyHash === 'known' ? { role: 'reader' } : null;
      },
    });
  }

  /** A rogue that answers every request at once with `answer` (its own headers, if any). */
  function rogueAnswering(answer: (msg: Msg) => { data: string; headers?: ReturnType<typeof natsHeaders> }): Subscription {
    return rogue.subscribe(subject, {
      callback: (_e, msg) => {
        const { data, headers } = answer(msg);
        msg.respond(data, headers ? { headers } : undefined);
      },
    });
  }

  it('believes only the owner: a forged operator answer that arrives first is ignored, the genuine one is used', async () => {
    serveGenuine(100);
    await owner.flush();
    const forging = rogueAnswering(() => ({ data: JSON.stringify({ result: { role: 'operator' } }) }));
    await rogue.flush();
    try {
      forgeries.length = 0;
      await expect(client.request(subject, { keyHash: 'never-issued' }, Reply)).resolves.toBeNull();
      await expect(client.request(subject, { keyHash: 'known' }, Reply)).resolves.toEqual({ role: 'reader' });
      expect(forgeries.length).toBeGreaterThanOrEqual(1);
      expect(forgeries[0]).toMatch(/unsigned reply/);
    } finally {
      forging.unsubscribe();
      serving?.unsubscribe();
      serving = undefined;
    }
  });

  it('with only the rogue answering, fails as unavailable (503), naming the ignored forgeries', async () => {
    const forging = rogueAnswering(() => ({ data: JSON.stringify({ result: { role: 'operator' } }) }));
    await rogue.flush();
    try {
      const asked = client.request(subject, { keyHash: 'never-issued' }, Reply);
      await expect(asked).rejects.toBeInstanceOf(DependencyUnavailableError);
      await expect(asked).rejects.toThrow(/no genuine answer within 500 ms \(1 forged answers ignored\)/);
    } finally {
      forging.unsubscribe();
    }
  });

  it('refuses a genuine answer replayed to a later request', async () => {
    // The rogue records pairing's signed answer for an operator's key…
    serveGenuine();
    await owner.flush();
    let recorded: { data: Uint8Array; keyId: string; signature: string } | undefined;
    const recorder = asker.subscribe(`${subject}.recorded`, { max: 1 });
    const capture = (async () => {
      for await (const msg of recorder) {
        recorded = {
          data: msg.data,
          keyId: msg.headers!.get(REPLY_KEY_ID_HEADER),
          signature: msg.headers!.get(REPLY_SIGNATURE_HEADER),
        };
      }
    })();
    // …by asking with its own reply subject (anyone may ask; only the answer's signature makes it count).
    const h = natsHeaders();
    h.set('Request-Nonce', 'rogue-nonce');
    rogue.publish(subject, JSON.stringify({ keyHash: 'known' }), { reply: `${subject}.recorded`, headers: h });
    await capture;
    serving?.unsubscribe();
    serving = undefined;
    expect(recorded).toBeDefined();
    // Then replays it, signature and all, to every later request.
    const replaying = rogueAnswering(() => {
      const headers = natsHeaders();
      headers.set(REPLY_KEY_ID_HEADER, recorded!.keyId);
      headers.set(REPLY_SIGNATURE_HEADER, recorded!.signature);
      return { data: Buffer.from(recorded!.data).toString(), headers };
    });
    await rogue.flush();
    try {
      forgeries.length = 0;
      await expect(client.request(subject, { keyHash: 'known' }, Reply)).rejects.toBeInstanceOf(DependencyUnavailableError);
      expect(forgeries).toEqual([expect.stringMatching(/replayed from another request/)]);
    } finally {
      replaying.unsubscribe();
    }
  });

  it('fails as unavailable, saying so, when nobody serves the subject (no responders)', async () => {
    await expect(client.request(`${subject}.nobody`, { keyHash: 'x' }, Reply)).rejects.toThrow(/did not answer: no responders/);
  });
});
