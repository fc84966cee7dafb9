/**
 * Injections straight onto the bus, as a broken or misbehaving producer would make them:
 * - duplicates: copies of events already in the streams, published again under a fresh Nats-Msg-Id so that
 *   JetStream's de-duplication lets them through (as a republish after the duplicate window would);
 * - stale copies: an OLD event of the stream (a version its aggregate has since moved past) published late under
 *   a new event id, so only the version check can tell it changes nothing;
 * - poison: malformed JSON, an envelope whose data fails its schema, and an unknown event version.
 * Each is counted; the report compares the counts with what the sync agent dead-lettered, by reason.
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { BusNames, EventEnvelope } from '#shared/contracts';
import { developmentSigningKey, publishCopy, publishSignedEnvelope } from '#shared/testing';
import type { Random } from './load.js';

export interface InjectionCounts {
  duplicates: number;
  staleCopies: number;
  poison: number;
  /** Injections that could not be published (NATS down at the time). */
  skipped: number;
}

const POISON_KINDS = ['malformed JSON', 'failing schema', 'unknown version'] as const;

export class Injector {
  readonly counts: InjectionCounts = { duplicates: 0, staleCopies: 0, poison: 0, skipped: 0 };
  private poisonTurn = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: BusNames,
    private readonly random: Random,
  ) {}

  static async connect(servers: string[], names: BusNames, random: Random): Promise<Injector> {
    const nc = await connect({ servers, name: 'chaos-injector', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    return new Injector(nc, jetstream(nc, { timeout: 3000 }), await jetstreamManager(nc, { timeout: 3000 }), names, random);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }

  /** One round: `duplicates` copies, `stale` old events under new ids, `poison` poison messages. Never throws. */
  async round(duplicates: number, stale: number, poison: number): Promise<InjectionCounts> {
    const done: InjectionCounts = { duplicates: 0, staleCopies: 0, poison: 0, skipped: 0 };
    for (let i = 0; i < duplicates; i++) {
      if (await this.copy(false)) done.duplicates++;
      else done.skipped++;
    }
    for (let i = 0; i < stale; i++) {
      if (await this.copy(true)) done.staleCopies++;
      else done.skipped++;
    }
    for (let i = 0; i < poison; i++) {
      if (await this.poison()) done.poison++;
      else done.skipped++;
    }
    this.counts.duplicates += done.duplicates;
    this.counts.staleCopies += done.staleCopies;
    this.counts.poison += done.poison;
    this.counts.skipped += done.skipped;
    return done;
  }

  /**
   * Republishes a stored event of PAIRING or LICENSING: a recent one as it is (a duplicate), or one from the
   * first half of the stream under a new event id (a stale copy). Only events the services published are
   * copied (never an earlier injection).
   */
  private async copy(stale: boolean): Promise<boolean> {
    try {
      const source = this.random.chance(0.5) ? 'pairing' : 'licensing';
      const stream = this.names.stream(source);
      const { state } = await this.jsm.streams.info(stream);
      if (state.messages === 0) return false;
      for (let attempt = 0; attempt < 5; attempt++) {
        const span = state.last_seq - state.first_seq;
        const seq = stale
          ? state.first_seq + this.random.int(0, Math.floor(span / 2))
          : state.last_seq - this.random.int(0, Math.min(span, 50));
        const msg = await this.jsm.streams.getMessage(stream, { seq });
        if (!msg || msg.header?.get('Chaos-Injected')) continue;
        const envelope = msg.json<Record<string, unknown>>();
        if (typeof envelope.eventId !== 'string') continue;
        // Consumers apply only events signed by their producer: a duplicate keeps its bytes and signature, a
        // stale copy (a new event id) is signed again with the producer's development key, as its relay would.
        if (stale) {
          const copy = { ...envelope, eventId: randomUUID() } as EventEnvelope;
          await publishSignedEnvelope(this.js, this.names, copy, developmentSigningKey(source), copy.eventId, {
            'Chaos-Injected': 'stale',
          });
        } else {
          await publishCopy(this.js, msg, { 'Chaos-Injected': 'duplicate' });
        }
        return true;
      }
      return false;
    } catch {
      return false;
    }
  }

  private async poison(): Promise<boolean> {
    const kind = POISON_KINDS[this.poisonTurn++ % POISON_KINDS.length]!;
    const serial = '0000000C4A05';
    const prefix = this.names.namespace ? `${this.names.namespace}.` : '';
    const envelope = {
      eventId: randomUUID(),
      type: 'EntitlementChanged',
      schemaVersion: 1,
      streamId: `license-${randomUUID()}`,
      streamVersion: 1,
      occurredAt: new Date().toISOString(),
      data: { change: 'granted' },
      metadata: { correlationId: 'chaos-poison', causationId: null },
    };
    const [subject, body] =
      kind === 'malformed JSON'
        ? [`${prefix}licensing.v1.entitlement-changed.${serial}`, '{"eventId": "not json']
        : kind === 'failing schema'
          ? [`${prefix}licensing.v1.entitlement-changed.${serial}`, JSON.stringify(envelope)]
          : [
              `${prefix}pairing.v9.product-registered.${serial}`,
              JSON.stringify({ ...envelope, type: 'ProductRegistered', schemaVersion: 9 }),
            ];
    try {
      const headers = natsHeaders();
      headers.set('Chaos-Injected', `poison: ${kind}`);
      await this.js.publish(subject, body, { msgID: randomUUID(), headers });
      return true;
    } catch {
      return false;
    }
  }
}
