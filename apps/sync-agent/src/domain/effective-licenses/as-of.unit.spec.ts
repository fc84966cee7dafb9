import { describe, expect, it } from '@jest/globals';
import type {
  EffectiveLicenseSetV1,
  EventEnvelope,
  LicenseStateV1,
  ProductsAssociatedV1,
  PublishedEvent,
} from '#shared/contracts';
import { namedSerials } from './projection.js';
import { collectEventsConcerning, effectiveSetAsOf, newSerialsIn, type ConsumedEvent } from './as-of.js';

const P = 'C0EAE4000001';
const S = 'C0EAE4000002';
const R = 'C0EAE4000003';
const PAIR_1 = '00000000-0000-4000-8000-000000000001';
const PAIR_2 = '00000000-0000-4000-8000-000000000002';
const PAIR_3 = '00000000-0000-4000-8000-000000000003';
const LICENSE = '00000000-0000-4000-8000-00000000000a';
const TRIAL = '00000000-0000-4000-8000-00000000000b';

/** Events as the inbox keeps them, each stream versioned in the order it was written. */
class History {
  readonly consumed: ConsumedEvent[] = [];
  private readonly versions = new Map<string, number>();
  private ids = 0;

  record(occurredAt: string, streamId: string, event: PublishedEvent): this {
    const streamVersion = (this.versions.get(streamId) ?? 0) + 1;
    this.versions.set(streamId, streamVersion);
    const eventId = `00000000-0000-4000-9000-${(++this.ids).toString(16).padStart(12, '0')}`;
    const envelope = {
      eventId,
      schemaVersion: 1,
      streamId,
      streamVersion,
      occurredAt,
      metadata: { correlationId: null, causationId: null },
      ...event,
    } as EventEnvelope;
    this.consumed.push({ serials: namedSerials(envelope), envelope });
    return this;
  }

  registered(at: string, serial: string): this {
    return this.record(at, `product-${serial}`, {
      type: 'ProductRegistered',
      data: { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'acme', registeredAt: at },
    });
  }

  license(at: string, change: 'granted' | 'renewed' | 'revoked', license: LicenseStateV1): this {
    return this.record(at, `license-${license.licenseId}`, {
      type: 'EntitlementChanged',
      data: { change, license, changedAt: at },
    });
  }

  associated(at: string, pair: Omit<ProductsAssociatedV1, 'associatedAt' | 'model' | 'accountId'>): this {
    return this.record(at, `pair-${pair.pairId}`, {
      type: 'ProductsAssociated',
      data: { ...pair, model: 'NSA 2700', accountId: 'acme', associatedAt: at },
    });
  }

  dissociated(at: string, associatedAt: string, pair: { pairId: string; primarySerial: string; secondarySerial: string }): this {
    return this.record(at, `pair-${pair.pairId}`, {
      type: 'ProductsDissociated',
      data: { ...pair, model: 'NSA 2700', accountId: 'acme', associatedAt, dissociatedAt: at },
    });
  }

  get envelopes(): EventEnvelope[] {
    return this.consumed.map((c) => c.envelope);
  }

  /** An in-memory stand-in for the inbox query. */
  loader(at: Date, calls: string[][] = []) {
    return async (serials: readonly string[], seen: ReadonlySet<string>): Promise<ConsumedEvent[]> => {
      calls.push([...serials]);
      return this.consumed.filter(
        (c) =>
          c.serials.some((s) => serials.includes(s)) &&
          !seen.has(c.envelope.eventId) &&
          Date.parse(c.envelope.occurredAt) <= at.getTime(),
      );
    };
  }
}

function license(licenseId: string, serial: string, sku: string, expiresAt: string | null, trial = false): LicenseStateV1 {
  return { licenseId, serial, sku, trial, expiresAt, status: 'active', grantedAt: '2025-01-01T00:00:00.000Z', revokedAt: null };
}

/** The parts of a set the "as of" tests are about. */
function summary(set: EffectiveLicenseSetV1 | null) {
  if (set === null) return null;
  return {
    role: set.role,
    pairId: set.pairId,
    licenses: set.licenses.map(
      (l) => `${l.sku} ${l.sources.map((s) => `${s.from}:${s.licenseId.slice(-1)}`).join(',')} ${l.expiresAt}`,
    ),
  };
}

// The story: register, grant on the Primary, associate, renew, dissociate, renew while dissociated, re-associate.
const story = new History()
  .registered('2025-01-01T00:00:00.000Z', P)
  .registered('2025-01-01T00:00:00.000Z', S)
  .license('2025-01-10T00:00:00.000Z', 'granted', license(LICENSE, P, 'GATEWAY_AV', '2025-09-01T00:00:00.000Z'))
  .license('2025-01-10T00:00:00.000Z', 'granted', license(TRIAL, P, 'IPS', '2025-02-10T00:00:00.000Z', true))
  .associated('2025-02-01T00:00:00.000Z', { pairId: PAIR_1, primarySerial: P, secondarySerial: S })
  .license('2025-03-01T00:00:00.000Z', 'renewed', license(LICENSE, P, 'GATEWAY_AV', '2026-01-01T00:00:00.000Z'))
  .dissociated('2025-04-01T00:00:00.000Z', '2025-02-01T00:00:00.000Z', { pairId: PAIR_1, primarySerial: P, secondarySerial: S })
  .license('2025-05-01T00:00:00.000Z', 'renewed', license(LICENSE, P, 'GATEWAY_AV', '2027-01-01T00:00:00.000Z'))
  .associated('2025-06-01T00:00:00.000Z', { pairId: PAIR_2, primarySerial: P, secondarySerial: S });

describe('effectiveSetAsOf', () => {
  describe('given the story of a Secondary', () => {
    it.each([
      { when: 'before its registration', at: '2024-12-31T23:59:59.999Z', then: null },
      {
        when: 'right after its registration',
        at: '2025-01-01T00:00:00.000Z',
        then: { role: 'standalone', pairId: null, licenses: [] },
      },
      {
        when: 'after the grants on the Primary, before the association',
        at: '2025-01-20T00:00:00.000Z',
        then: { role: 'standalone', pairId: null, licenses: [] },
      },
      {
        when: 'after the association, while the trial runs',
        at: '2025-02-05T00:00:00.000Z',
        then: {
          role: 'secondary',
          pairId: PAIR_1,
          licenses: ['GATEWAY_AV primary:a 2025-09-01T00:00:00.000Z', 'IPS primary:b 2025-02-10T00:00:00.000Z'],
        },
      },
      {
        when: 'after the trial expired (judged against the instant asked about)',
        at: '2025-02-10T00:00:00.000Z',
        then: { role: 'secondary', pairId: PAIR_1, licenses: ['GATEWAY_AV primary:a 2025-09-01T00:00:00.000Z'] },
      },
      {
        when: 'after the renewal',
        at: '2025-03-01T00:00:00.001Z',
        then: { role: 'secondary', pairId: PAIR_1, licenses: ['GATEWAY_AV primary:a 2026-01-01T00:00:00.000Z'] },
      },
      {
        when: 'after the dissociation',
        at: '2025-04-15T00:00:00.000Z',
        then: { role: 'standalone', pairId: null, licenses: [] },
      },
      {
        when: 'after a renewal while dissociated',
        at: '2025-05-15T00:00:00.000Z',
        then: { role: 'standalone', pairId: null, licenses: [] },
      },
      {
        when: 'after the re-association',
        at: '2025-06-01T00:00:00.000Z',
        then: { role: 'secondary', pairId: PAIR_2, licenses: ['GATEWAY_AV primary:a 2027-01-01T00:00:00.000Z'] },
      },
    ])('when asked $when, then it is what the set was', ({ at, then }) => {
      expect(summary(effectiveSetAsOf(story.envelopes, S, new Date(at)))).toEqual(then);
    });

    it('when the events are given in any order, then the answer is the same', () => {
      const at = new Date('2025-03-15T00:00:00.000Z');
      const inOrder = effectiveSetAsOf(story.envelopes, S, at);
      expect(effectiveSetAsOf([...story.envelopes].reverse(), S, at)).toEqual(inOrder);
      expect(effectiveSetAsOf([...story.envelopes, ...story.envelopes], S, at)).toEqual(inOrder);
    });

    it('when asked about the Primary, then it has its own licenses only', () => {
      expect(summary(effectiveSetAsOf(story.envelopes, P, new Date('2025-02-05T00:00:00.000Z')))).toEqual({
        role: 'primary',
        pairId: PAIR_1,
        licenses: ['GATEWAY_AV own:a 2025-09-01T00:00:00.000Z', 'IPS own:b 2025-02-10T00:00:00.000Z'],
      });
    });
  });

  describe('given a license expiring ten days after the instant asked about', () => {
    const at = new Date('2025-08-22T00:00:00.000Z');
    it.each([
      { window: 30, then: true },
      { window: 5, then: false },
    ])('when the warning window is $window days, then expiringSoon is $then', ({ window, then }) => {
      const set = effectiveSetAsOf(story.envelopes.slice(0, 5), S, at, { warningWindowDays: window });
      expect(set?.licenses.map((l) => [l.sku, l.expiringSoon])).toEqual([['GATEWAY_AV', then]]);
    });
  });
});

describe('newSerialsIn', () => {
  it('lists the serials the events name that are not known yet, once each, sorted', () => {
    const events = [
      { serials: [S, P], envelope: story.envelopes[0]! },
      { serials: [R, P], envelope: story.envelopes[1]! },
    ];
    expect(newSerialsIn(new Set([P]), events)).toEqual([S, R].sort());
    expect(newSerialsIn(new Set([P, S, R]), events)).toEqual([]);
  });
});

describe('collectEventsConcerning', () => {
  it('given a Secondary, loads its events, then its Primary’s, and stops when no new serial appears', async () => {
    const calls: string[][] = [];
    const events = await collectEventsConcerning(S, story.loader(new Date('2030-01-01T00:00:00.000Z'), calls));

    expect(calls).toEqual([[S], [P]]);
    expect(events.map((e) => e.eventId).sort()).toEqual(story.envelopes.map((e) => e.eventId).sort());
  });

  it('loads each event once, however many of the serials it names', async () => {
    const events = await collectEventsConcerning(S, story.loader(new Date('2030-01-01T00:00:00.000Z')));
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });

  it('given a chain of pairs, follows it for at most the given number of rounds', async () => {
    const serials = ['C0EAE4000011', 'C0EAE4000012', 'C0EAE4000013', 'C0EAE4000014', 'C0EAE4000015'] as const;
    const chain = new History();
    serials.forEach((serial, i) => {
      chain.registered('2025-01-01T00:00:00.000Z', serial);
      const next = serials[i + 1];
      if (next)
        chain.associated('2025-01-02T00:00:00.000Z', {
          pairId: `00000000-0000-4000-8000-0000000001${i}0`,
          primarySerial: serial,
          secondarySerial: next,
        });
    });
    const calls: string[][] = [];
    await collectEventsConcerning(serials[0], chain.loader(new Date('2030-01-01T00:00:00.000Z'), calls), 2);
    expect(calls).toEqual([[serials[0]], [serials[1]]]);
  });

  it('given a replacement of a failed Primary, reaches the failed unit, whose licenses its successor holds', async () => {
    // P failed: its Secondary S becomes the Primary of a new pair with the replacement R.
    const rma = new History()
      .registered('2025-01-01T00:00:00.000Z', P)
      .registered('2025-01-01T00:00:00.000Z', S)
      .registered('2025-01-01T00:00:00.000Z', R)
      .license('2025-01-10T00:00:00.000Z', 'granted', license(LICENSE, P, 'GATEWAY_AV', null))
      .associated('2025-02-01T00:00:00.000Z', { pairId: PAIR_1, primarySerial: P, secondarySerial: S })
      .associated('2025-03-01T00:00:00.000Z', {
        pairId: PAIR_3,
        primarySerial: S,
        secondarySerial: R,
        replaces: { pairId: PAIR_1, failedSerial: P, replacementSerial: R, successorSerial: S },
      })
      .dissociated('2025-03-01T00:00:00.000Z', '2025-02-01T00:00:00.000Z', {
        pairId: PAIR_1,
        primarySerial: P,
        secondarySerial: S,
      });
    const at = new Date('2025-03-02T00:00:00.000Z');

    const events = await collectEventsConcerning(R, rma.loader(at));

    expect(summary(effectiveSetAsOf(events, R, at))).toEqual({
      role: 'secondary',
      pairId: PAIR_3,
      licenses: ['GATEWAY_AV primary:a null'],
    });
  });
});
