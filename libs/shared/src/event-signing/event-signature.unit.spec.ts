import { afterAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { headers } from '@nats-io/transport-node';
import type { InboundMessage } from '../messaging/decode-event.js';
import { busNames, type EventEnvelope, type EventSource } from '../contracts/index.js';
import { sampleEvent, testEnvelope } from '../testing/sample-events.js';
import {
  EVENT_KEY_ID_HEADER,
  EVENT_SIGNATURE_HEADER,
  signEvent,
  verifiedEventBatchDecoder,
  verifiedEventDecoder,
  verifyEventMessage,
  type EventRejectionReason,
  type EventVerificationKey,
  type ReceivedEventMessage,
} from './event-signature.js';
import { SignatureVerifier } from './signature-verifier.js';

const names = busNames('ns');
const pair = () => generateKeyPairSync('ed25519');
const licensing1 = pair();
const licensing2 = pair(); // the rotated-in key: both valid at once
const pairing1 = pair();
const stranger = pair(); // a key no consumer knows

const key = (kid: string, source: EventSource, publicKey: KeyObject): [string, EventVerificationKey] => [
  kid,
  { kid, source, publicKey },
];
const KEYS = new Map([
  key('licensing/2026-01', 'licensing', licensing1.publicKey),
  key('licensing/2026-02', 'licensing', licensing2.publicKey),
  key('pairing/2026-01', 'pairing', pairing1.publicKey),
]);

const grant: EventEnvelope = testEnvelope(sampleEvent('EntitlementChanged'), { streamId: 'license-1', streamVersion: 3 });
const grantSubject = names.subjectOf(grant);
const sampleGrant = sampleEvent('EntitlementChanged');
const otherSerial: EventEnvelope = testEnvelope({
  ...sampleGrant,
  data: { ...sampleGrant.data, license: { ...sampleGrant.data.license, serial: 'BA9876543210' } },
});

/** The message the relay would publish for `envelope`, signed with `privateKey` under `kid`. */
function signed(envelope: EventEnvelope, kid: string, privateKey: KeyObject, subject = names.subjectOf(envelope)) {
  const { body, keyId, signature } = signEvent(envelope, subject, { kid, privateKey });
  return { subject, body, keyId, signature };
}

const byLicensing = signed(grant, 'licensing/2026-01', licensing1.privateKey);
const edit = (message: ReceivedEventMessage, change: (json: Record<string, unknown>) => void): ReceivedEventMessage => {
  const json = JSON.parse(Buffer.from(message.body).toString()) as Record<string, unknown>;
  change(json);
  return { ...message, body: Buffer.from(JSON.stringify(json)) };
};

/** Messages every consumer must refuse, and why. */
const rejections: [string, ReceivedEventMessage, EventRejectionReason][] = [
  ['it has no signature headers', { subject: grantSubject, body: byLicensing.body }, 'unsigned'],
  ['only the key id is there', { ...byLicensing, signature: undefined }, 'unsigned'],
  ['its key id is unknown', signed(grant, 'licensing/forged', stranger.privateKey), 'unknown_key'],
  ['a stranger signed it under a known key id', signed(grant, 'licensing/2026-01', stranger.privateKey), 'bad_signature'],
  ['the old key signed under the new key id', signed(grant, 'licensing/2026-02', licensing1.privateKey), 'bad_signature'],
  ['the signature is not base64 of 64 bytes', { ...byLicensing, signature: 'not-a-signature' }, 'bad_signature'],
  [
    'its data was changed (another SKU)',
    edit(byLicensing, (j) => ((j.data as { license: { sku: string } }).license.sku = 'IPS')),
    'bad_signature',
  ],
  ['its stream version was raised', edit(byLicensing, (j) => (j.streamVersion = 99)), 'bad_signature'],
  [
    'its body was re-serialised with extra whitespace',
    { ...byLicensing, body: Buffer.from(JSON.stringify(JSON.parse(Buffer.from(byLicensing.body).toString()), null, 1)) },
    'bad_signature',
  ],
  ['it was moved to another subject', { ...byLicensing, subject: names.subjectOf(otherSerial) }, 'moved'],
  ['it was moved to another namespace', { ...byLicensing, subject: busNames('other').subjectOf(grant) }, 'moved'],
  [
    'it was signed for a subject its data does not map to',
    signed(grant, 'licensing/2026-01', licensing1.privateKey, names.subjectOf(otherSerial)),
    'moved',
  ],
  ['a pairing key signed a licensing event', signed(grant, 'pairing/2026-01', pairing1.privateKey), 'wrong_key'],
  [
    "another message's signature was copied onto it",
    { ...byLicensing, signature: signed(otherSerial, 'licensing/2026-01', licensing1.privateKey).signature },
    'bad_signature',
  ],
];

describe('verifyEventMessage', () => {
  describe('given a message signed by a known key of the source that owns its event', () => {
    it.each([
      ['the current key', byLicensing],
      ['the rotated-in key (two keys valid at once)', signed(grant, 'licensing/2026-02', licensing2.privateKey)],
    ])('accepts it when signed with %s, returning the event with its subject', (_, message) => {
      const result = verifyEventMessage(message, KEYS, names);
      expect(result).toEqual({ ok: true, event: { ...grant, subject: grantSubject } });
    });
  });

  describe.each(rejections)('given %s', (_, message, reason) => {
    it(`rejects it as ${reason}`, () => {
      const result = verifyEventMessage(message, KEYS, names);
      expect(result).toMatchObject({ ok: false, reason });
    });
  });

  describe('given a correctly signed body that is not a valid event', () => {
    it('rejects it as malformed, naming what is wrong', () => {
      const { privateKey } = licensing1;
      const body = Buffer.from(JSON.stringify({ ...grant, subject: grantSubject, type: 'LicensePrinted' }));
      const signature = signEventBytes(body, privateKey);
      const result = verifyEventMessage({ subject: grantSubject, body, keyId: 'licensing/2026-01', signature }, KEYS, names);
      expect(result).toEqual({ ok: false, reason: 'malformed', detail: 'unknown event type LicensePrinted' });
    });
  });

  describe('given a correctly signed event without the subject field (a producer of before signing)', () => {
    it('rejects it as moved: nothing binds it to a subject', () => {
      const body = Buffer.from(JSON.stringify(grant));
      const signature = signEventBytes(body, licensing1.privateKey);
      const result = verifyEventMessage({ subject: grantSubject, body, keyId: 'licensing/2026-01', signature }, KEYS, names);
      expect(result).toMatchObject({ ok: false, reason: 'moved' });
    });
  });
});

describe('verifiedEventBatchDecoder', () => {
  /** Every accepted and rejected message of the tables above, as they arrive from NATS, twice over (enough for the threads). */
  const received: InboundMessage[] = [
    byLicensing,
    signed(otherSerial, 'licensing/2026-02', licensing2.privateKey),
    ...rejections.map(([, m]) => m),
  ]
    .flatMap((m) => [m, m])
    .map(({ subject, body, keyId, signature }) => {
      const h = headers();
      if (keyId) h.set(EVENT_KEY_ID_HEADER, keyId);
      if (signature) h.set(EVENT_SIGNATURE_HEADER, signature);
      return { subject, data: body, headers: h };
    });
  const oneByOne = received.map(verifiedEventDecoder(KEYS, names));
  const verifiers: SignatureVerifier[] = [];
  afterAll(() => Promise.all(verifiers.map((v) => v.close())));

  describe.each([0, 1, 2])('given a verifier with %i threads', (threads) => {
    it('answers every message of a batch as the one-message decoder does', async () => {
      const verifier = new SignatureVerifier(KEYS, threads);
      verifiers.push(verifier);
      expect(received.length).toBeGreaterThan(16); // past the size verified inline
      expect(await verifiedEventBatchDecoder(KEYS, names, verifier)(received)).toEqual(oneByOne);
      expect(oneByOne.filter((d) => d.ok)).toHaveLength(4);
    });
  });

  describe('given a verifier whose threads are gone', () => {
    it('still gives the same answers, checking the signatures inline', async () => {
      const verifier = new SignatureVerifier(KEYS, 2);
      await verifier.close();
      expect(await verifiedEventBatchDecoder(KEYS, names, verifier)(received)).toEqual(oneByOne);
    });
  });
});

/** A raw Ed25519 signature of `body`, for bodies the relay would never produce. */
function signEventBytes(body: Uint8Array, privateKey: KeyObject): string {
  return sign(null, body, privateKey).toString('base64');
}
