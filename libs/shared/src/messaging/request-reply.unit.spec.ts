import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { EventSource } from '../contracts/index.js';
import type { EventVerificationKey } from '../event-signing/event-signature.js';
import { replyForgery, signReply } from './request-reply.js';

function keyOf(source: EventSource, name: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = `${source}/${name}`;
  return { signing: { kid, privateKey }, verification: { kid, source, publicKey } satisfies EventVerificationKey };
}

const pairing = keyOf('pairing', 'k1');
const licensing = keyOf('licensing', 'k1');
const impostor = keyOf('pairing', 'k1'); // same kid as pairing's, another private key
const keys = new Map([pairing, licensing].map((k) => [k.verification.kid, k.verification]));

const SUBJECT = 'rpc.pairing.v1.verify-api-key';
const NONCE = 'n0nce-of-this-request';
const BODY = Buffer.from('{"result":{"keyId":"k","role":"operator","accountId":null}}');

/** A reply as it arrives: `body`, signed by `signer` for (subject, nonce). */
function reply(signer: { signing: { kid: string; privateKey: KeyObject } }, subject = SUBJECT, nonce = NONCE, body = BODY) {
  const { keyId, signature } = signReply(subject, nonce, body, signer.signing);
  return { body, keyId, signature };
}

describe('replyForgery (is an answer the owner’s own, for this request?)', () => {
  it.each<{ when: string; given: () => { body: Uint8Array; keyId?: string; signature?: string }; then: RegExp | null }>([
    { when: 'pairing signed exactly this reply for this request', given: () => reply(pairing), then: null },
    { when: 'the reply carries no signature', given: () => ({ body: BODY }), then: /unsigned/ },
    { when: 'it names a key nobody knows', given: () => ({ ...reply(pairing), keyId: 'pairing/other' }), then: /unknown key/ },
    { when: 'another service signed it', given: () => reply(licensing), then: /a licensing key, not pairing's/ },
    { when: 'someone else signed it under pairing’s key id', given: () => reply(impostor), then: /does not match/ },
    {
      when: 'the body was altered after signing',
      given: () => ({ ...reply(pairing), body: Buffer.from('{"result":null}') }),
      then: /does not match/,
    },
    {
      when: 'it is a genuine answer to another request (replayed)',
      given: () => reply(pairing, SUBJECT, 'an-earlier-nonce'),
      then: /does not match/,
    },
    {
      when: 'it is a genuine answer on another subject',
      given: () => reply(pairing, 'rpc.pairing.v1.get-product'),
      then: /does not match/,
    },
    { when: 'the signature is not 64 bytes', given: () => ({ ...reply(pairing), signature: 'AAAA' }), then: /does not match/ },
  ])('when $when, then it is refused as $then', ({ given, then }) => {
    const forgery = replyForgery(
      (({ body, keyId, signature }) => ({ body, keyId, signature }))(given()),
      { subject: SUBJECT, nonce: NONCE },
      keys,
      'pairing',
    );
    if (then === null) expect(forgery).toBeNull();
    else expect(forgery).toMatch(then);
  });
});
