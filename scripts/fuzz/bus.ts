/**
 * `fuzzBus(options)`: sends malformed and forged messages onto the bus subjects the sync agent consumes, as a
 * client holding bus credentials but no signing key would, waits until the sync agent has dealt with every one,
 * and reports what happened: how many were sent, how many the sync agent rejected and why
 * (`ha_license_sync_events_rejected_total{reason}` before and after), and how many state changes they caused (effective sets of
 * the given products that differ, plus events the sync agent applied: `ha_license_sync_consumer_events_total{outcome="applied"}`). A correct system rejects every message and changes
 * nothing. Loopback only; bounded by `messages`. The messages are generated with fast-check from a seed, so a run
 * can be repeated.
 *
 * Kinds: random bytes; random JSON; oversized bodies; envelopes of the wrong shape; forged grants and
 * associations, unsigned, signed with an unknown key id, or signed by a stranger under a real key id; copies of
 * real events with one field changed (tampered), put on another subject (moved), or sent again (replayed).
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers, type MsgHdrs } from '@nats-io/transport-node';
import { busNames, contractOf, LICENSE_CATALOG, type BusNames, type EventEnvelope, type PublishedEvent } from '#shared/contracts';
import { EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER, signEvent } from '#shared/tools';

export interface FuzzBusOptions {
  /** The NATS server (loopback) and, on a server with authorization, the bus user to attack with. */
  readonly natsUrl: string;
  readonly user?: string;
  readonly password?: string;
  /** The BUS_NAMESPACE of the system under test. */
  readonly namespace: string;
  /** The sync agent's base URL: its /metrics and effective sets are what is checked. */
  readonly syncAgentUrl: string;
  /** An API key that may read the sync agent's /metrics and effective sets (an operator's). */
  readonly apiKey: string;
  /** Registered products whose effective sets must not change (forged events target them). */
  readonly serials: readonly string[];
  /** How many messages to send (the full run: at least 1,000). */
  readonly messages: number;
  readonly seed?: number;
  /** How long to wait for the sync agent to consume everything. */
  readonly settleTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface FuzzBusResult {
  readonly sent: number;
  /** Sent messages by kind. */
  readonly sentByKind: Readonly<Record<string, number>>;
  /** The sync agent's ha_license_sync_events_rejected_total increase, by reason. */
  readonly rejectedByReason: Readonly<Record<string, number>>;
  readonly rejected: number;
  /** Copied to the dead-letter stream (every rejected message should be). */
  readonly deadLettered: number;
  /** Effective sets that differ after the run, plus events the sync agent applied during it. */
  readonly stateChanges: number;
  readonly seed: number;
}

interface Outgoing {
  readonly kind: string;
  readonly subject: string;
  readonly body: Uint8Array;
  readonly headers?: MsgHdrs;
}

interface RealMessage {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly keyId: string;
  readonly signature: string;
}

const utf8 = (s: string) => Buffer.from(s);

function signatureHeaders(keyId: string | undefined, signature: string | undefined): MsgHdrs {
  const h = headers();
  if (keyId !== undefined) h.set(EVENT_KEY_ID_HEADER, keyId);
  if (signature !== undefined) h.set(EVENT_SIGNATURE_HEADER, signature);
  return h;
}

/** The sync agent's ha_license_sync_events_rejected_total by reason, and how many events it has applied. */
async function consumerCounts(
  syncAgentUrl: string,
  apiKey: string,
): Promise<{ rejected: Record<string, number>; applied: number; deadLettered: number }> {
  const response = await fetch(`${syncAgentUrl}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  const text = await response.text();
  const rejected: Record<string, number> = {};
  for (const m of text.matchAll(/^ha_license_sync_events_rejected_total\{[^}]*reason="([a-z_]+)"[^}]*\} (\d+)/gm))
    rejected[m[1]!] = Number(m[2]);
  const applied = /^ha_license_sync_consumer_events_total\{[^}]*outcome="applied"[^}]*\} (\d+)/m.exec(text);
  let deadLettered = 0;
  for (const m of text.matchAll(/^ha_license_sync_dead_lettered_total\{[^}]*\} (\d+)/gm)) deadLettered += Number(m[1]);
  return { rejected, applied: applied ? Number(applied[1]) : 0, deadLettered };
}

async function effectiveSets(syncAgentUrl: string, apiKey: string, serials: readonly string[]): Promise<string[]> {
  return Promise.all(
    serials.map(async (s) => {
      const response = await fetch(`${syncAgentUrl}/products/${s}/effective-licenses`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      return `${response.status} ${await response.text()}`;
    }),
  );
}

/** The last `limit` signed messages of a stream: the real events to tamper with, move and replay. */
async function realMessages(jsm: JetStreamManager, stream: string, limit: number): Promise<RealMessage[]> {
  const { state } = await jsm.streams.info(stream);
  const found: RealMessage[] = [];
  for (let seq = state.last_seq; seq >= state.first_seq && seq > 0 && found.length < limit; seq--) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    const keyId = msg?.header?.get(EVENT_KEY_ID_HEADER);
    const signature = msg?.header?.get(EVENT_SIGNATURE_HEADER);
    if (msg && keyId && signature) found.push({ subject: msg.subject, body: msg.data, keyId, signature });
  }
  return found;
}

async function consumersDrained(jsm: JetStreamManager, names: BusNames): Promise<boolean> {
  for (const source of ['pairing', 'licensing'] as const) {
    const info = await jsm.consumers.info(names.stream(source), 'sync-agent');
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
  }
  return true;
}

/** The messages of one run, generated from the seed. */
function generate(
  options: FuzzBusOptions,
  names: BusNames,
  real: readonly RealMessage[],
  stranger: KeyObject,
  knownKeyIds: readonly string[],
): Outgoing[] {
  const serial = fc.constantFrom(...options.serials);
  const sku = fc.constantFrom(...LICENSE_CATALOG.map((l) => l.sku));
  const subjectFor = (event: PublishedEvent) => names.subjectOf(event);
  const anySubject = fc
    .tuple(fc.constantFrom('pairing', 'licensing'), fc.stringMatching(/^[a-z0-9-]{1,20}$/), serial)
    .map(([source, token, s]) => `${names.namespace ? `${names.namespace}.` : ''}${source}.v1.${token}.${s}`);

  const forgedGrant = fc
    .record({ serial, sku, version: fc.integer({ min: 1, max: 1_000_000 }), trial: fc.boolean() })
    .map(({ serial: s, sku: k, version, trial }): EventEnvelope => {
      const now = new Date().toISOString();
      const licenseId = randomUUID();
      return {
        eventId: randomUUID(),
        type: 'EntitlementChanged',
        schemaVersion: contractOf('EntitlementChanged').schemaVersion,
        streamId: `license-${licenseId}`,
        streamVersion: version,
        occurredAt: now,
        metadata: { correlationId: null, causationId: null },
        data: {
          change: 'granted',
          license: {
            licenseId,
            serial: s,
            sku: k,
            trial,
            expiresAt: trial ? '2099-01-01T00:00:00.000Z' : null,
            status: 'active',
            grantedAt: now,
            revokedAt: null,
          },
          changedAt: now,
        },
      };
    });
  const forgedAssociation = fc.tuple(serial, serial).map(([p, s]): EventEnvelope => {
    const now = new Date().toISOString();
    const pairId = randomUUID();
    return {
      eventId: randomUUID(),
      type: 'ProductsAssociated',
      schemaVersion: 1,
      streamId: `pair-${pairId}`,
      streamVersion: 1,
      occurredAt: now,
      metadata: { correlationId: null, causationId: null },
      data: { pairId, primarySerial: p, secondarySerial: s, model: 'NSA 2700', accountId: 'fuzz', associatedAt: now },
    };
  });
  const forgedEvent = fc.oneof(forgedGrant, forgedAssociation);

  const kinds: fc.Arbitrary<Outgoing>[] = [
    fc.tuple(anySubject, fc.uint8Array({ maxLength: 512 })).map(([subject, body]) => ({ kind: 'random-bytes', subject, body })),
    fc
      .tuple(anySubject, fc.jsonValue())
      .map(([subject, json]) => ({ kind: 'random-json', subject, body: utf8(JSON.stringify(json) ?? 'null') })),
    fc.tuple(anySubject, fc.integer({ min: 64_000, max: 256_000 })).map(([subject, size]) => ({
      kind: 'oversized',
      subject,
      body: utf8(`{"eventId":"${'x'.repeat(size)}"}`),
    })),
    fc
      .tuple(
        forgedEvent,
        fc.constantFrom('eventId', 'type', 'schemaVersion', 'streamVersion', 'occurredAt', 'data'),
        fc.jsonValue(),
      )
      .map(([event, field, value]) => ({
        kind: 'wrong-shape',
        subject: subjectFor(event),
        body: utf8(JSON.stringify({ ...event, [field]: value })),
      })),
    forgedEvent.map((event) => ({
      kind: 'forged-unsigned',
      subject: subjectFor(event),
      body: utf8(JSON.stringify({ ...event, subject: subjectFor(event) })),
    })),
    fc.tuple(forgedEvent, fc.stringMatching(/^[a-z-]{1,12}\/[A-Za-z0-9._-]{1,20}$/)).map(([event, kid]) => {
      const signed = signEvent(event, subjectFor(event), { kid, privateKey: stranger });
      return {
        kind: 'forged-unknown-key',
        subject: subjectFor(event),
        body: signed.body,
        headers: signatureHeaders(kid, signed.signature),
      };
    }),
    fc.tuple(forgedEvent, fc.constantFrom(...knownKeyIds)).map(([event, kid]) => {
      const signed = signEvent(event, subjectFor(event), { kid, privateKey: stranger });
      return {
        kind: 'forged-known-key-id',
        subject: subjectFor(event),
        body: signed.body,
        headers: signatureHeaders(kid, signed.signature),
      };
    }),
    fc
      .tuple(forgedEvent, fc.constantFrom(...knownKeyIds), fc.option(fc.string({ maxLength: 100 }), { nil: undefined }))
      .map(([event, kid, signature]) => ({
        kind: 'forged-bad-signature-header',
        subject: subjectFor(event),
        body: utf8(JSON.stringify({ ...event, subject: subjectFor(event) })),
        headers: signatureHeaders(kid, signature),
      })),
  ];
  if (real.length > 0) {
    const realMessage = fc.constantFrom(...real);
    kinds.push(
      fc
        .tuple(
          realMessage,
          fc.constantFrom('eventId', 'streamVersion', 'occurredAt', 'subject', 'data', 'metadata'),
          fc.jsonValue(),
        )
        .map(([m, field, value]) => {
          const json = JSON.parse(Buffer.from(m.body).toString()) as Record<string, unknown>;
          return {
            kind: 'tampered',
            subject: m.subject,
            body: utf8(JSON.stringify({ ...json, [field]: value })),
            headers: signatureHeaders(m.keyId, m.signature),
          };
        }),
      fc.tuple(realMessage, anySubject).map(([m, subject]) => ({
        kind: subject === m.subject ? 'replayed' : 'moved',
        subject,
        body: m.body,
        headers: signatureHeaders(m.keyId, m.signature),
      })),
      realMessage.map((m) => ({
        kind: 'replayed',
        subject: m.subject,
        body: m.body,
        headers: signatureHeaders(m.keyId, m.signature),
      })),
    );
  }
  return fc.sample(fc.oneof(...kinds), { numRuns: options.messages, seed: options.seed });
}

/** Runs the bus fuzz against a running system; see the file comment. */
export async function fuzzBus(options: FuzzBusOptions): Promise<FuzzBusResult> {
  const log = options.log ?? (() => undefined);
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const names = busNames(options.namespace);
  const nc = await connect({
    servers: options.natsUrl,
    name: 'fuzz-bus',
    ...(options.user ? { user: options.user, pass: options.password } : {}),
  });
  try {
    const js: JetStreamClient = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const real = [
      ...(await realMessages(jsm, names.stream('licensing'), 20)),
      ...(await realMessages(jsm, names.stream('pairing'), 20)),
    ];
    const knownKeyIds = [...new Set(real.map((m) => m.keyId))];
    if (knownKeyIds.length === 0) knownKeyIds.push('licensing/dev', 'pairing/dev');
    const stranger = generateKeyPairSync('ed25519').privateKey;
    const outgoing = generate(options, names, real, stranger, knownKeyIds);

    const before = await consumerCounts(options.syncAgentUrl, options.apiKey);
    const setsBefore = await effectiveSets(options.syncAgentUrl, options.apiKey, options.serials);
    log(`[fuzz:bus] seed ${seed}: sending ${outgoing.length} malformed or forged messages (${real.length} real events to copy)`);

    const sentByKind: Record<string, number> = {};
    let sent = 0;
    for (const message of outgoing) {
      // A fresh message id: JetStream's de-duplication must not be what stops a replay.
      await js.publish(message.subject, message.body, {
        msgID: randomUUID(),
        ...(message.headers ? { headers: message.headers } : {}),
      });
      sentByKind[message.kind] = (sentByKind[message.kind] ?? 0) + 1;
      sent++;
      if (sent % 250 === 0) log(`[fuzz:bus] sent ${sent}/${outgoing.length}`);
    }

    const deadline = Date.now() + (options.settleTimeoutMs ?? 120_000);
    while (!(await consumersDrained(jsm, names))) {
      if (Date.now() > deadline) throw new Error('fuzz:bus: the sync agent did not consume every message in time');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const after = await consumerCounts(options.syncAgentUrl, options.apiKey);
    const rejectedByReason = Object.fromEntries(
      Object.keys(after.rejected)
        .map((reason) => [reason, (after.rejected[reason] ?? 0) - (before.rejected[reason] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    const rejected = Object.values(rejectedByReason).reduce((a, b) => a + b, 0);
    const setsAfter = await effectiveSets(options.syncAgentUrl, options.apiKey, options.serials);
    // Applied = an event that got past verification, the inbox and the newest-version rule into the projection.
    const stateChanges = setsAfter.filter((s, i) => s !== setsBefore[i]).length + (after.applied - before.applied);
    const deadLettered = after.deadLettered - before.deadLettered;
    log(
      `[fuzz:bus] sent ${sent}, rejected ${rejected} ${JSON.stringify(rejectedByReason)}, dead-lettered ${deadLettered}, state changes ${stateChanges}`,
    );
    return { sent, sentByKind, rejectedByReason, rejected, deadLettered, stateChanges, seed };
  } finally {
    await nc.close();
  }
}
