import { describe, expect, it } from '@jest/globals';
import type { EventEnvelope, StatefulSyncStatusV1 } from '#shared/contracts';
import { applyEvents, emptyProjection } from './projection.js';
import { decidePublication, publicationScope, shouldPublishStatefulSync, type Publication } from './publication.js';
import { History } from './testing/history.js';
import { Publisher } from './testing/publisher.js';

const NOW = new Date('2025-06-01T00:00:00.000Z');
const [A, B, C] = ['C0EAE4000031', 'C0EAE4000032', 'C0EAE4000033'] as const;
const ON: StatefulSyncStatusV1 = { enabled: true, reason: null };
const UNLICENSED: StatefulSyncStatusV1 = { enabled: false, reason: 'NOT_LICENSED' };
const OLD_FIRMWARE: StatefulSyncStatusV1 = { enabled: false, reason: 'FIRMWARE_TOO_OLD' };
const NOT_PAIRED: StatefulSyncStatusV1 = { enabled: false, reason: 'NOT_PAIRED' };

/** What subscribers are told, in short: `<stream> v<version> <role> [<SKUs>]` or `<stream> v<version> <reason or ON>`. */
function told({ effectiveSets, statefulSync }: Publication): string[] {
  return [
    ...effectiveSets.map(
      (c) => `${c.streamId} v${c.expectedVersion + 1} ${c.set.role} [${c.set.licenses.map((l) => l.sku).join(' ')}]`,
    ),
    ...statefulSync.map((c) => `${c.streamId} v${c.expectedVersion + 1} ${c.status.reason ?? 'ON'}`),
  ];
}

/** The events of the history from `from` on. */
const since = (h: History, from: number): EventEnvelope[] => h.events.slice(from);

describe('shouldPublishStatefulSync', () => {
  it.each([
    { previous: null, status: ON, publish: true, why: 'a pair first seen tells its status' },
    { previous: null, status: UNLICENSED, publish: true, why: 'even when it is off' },
    { previous: null, status: NOT_PAIRED, publish: false, why: 'but not a pair that already ended' },
    { previous: UNLICENSED, status: UNLICENSED, publish: false, why: 'the same status again is no news' },
    { previous: UNLICENSED, status: OLD_FIRMWARE, publish: true, why: 'another reason is' },
    { previous: UNLICENSED, status: ON, publish: true, why: 'as is switching on' },
    { previous: ON, status: ON, publish: false, why: 'on stays on' },
    { previous: ON, status: NOT_PAIRED, publish: true, why: 'an enabled pair that ends is switched off' },
    { previous: UNLICENSED, status: NOT_PAIRED, publish: false, why: 'a disabled one that ends was off already' },
  ])('$why', ({ previous, status, publish }) => {
    expect(shouldPublishStatefulSync(previous, status)).toBe(publish);
  });
});

describe('decidePublication', () => {
  describe('when nothing was published before', () => {
    it('publishes a registered unit’s set at version 1, caused by its registration', () => {
      const h = new History();
      const registered = h.register(A);
      const { effectiveSets, statefulSync } = new Publisher(NOW).project(h.events);
      expect(statefulSync).toEqual([]);
      expect(effectiveSets).toHaveLength(1);
      expect(effectiveSets[0]).toMatchObject({
        streamId: `effective-licenses-${A}`,
        expectedVersion: 0,
        cause: registered,
        event: {
          type: 'EffectiveLicensesChanged',
          data: { serial: A, cause: { eventId: registered.eventId, type: 'ProductRegistered' }, computedAt: NOW.toISOString() },
        },
      });
    });

    it('publishes nothing for a unit whose registration has not arrived', () => {
      const h = new History();
      h.grant(A, 'GATEWAY_AV');
      expect(told(new Publisher(NOW).project(h.events))).toEqual([]);
    });

    it('publishes each set once per batch, in the order first affected, naming every cause in the order applied', () => {
      const h = new History();
      h.register(A);
      h.register(B);
      h.grant(A, 'GATEWAY_AV');
      h.associate(A, B);
      const { effectiveSets } = new Publisher(NOW).project(h.events);
      expect(effectiveSets.map((c) => c.set.serial)).toEqual([A, B]);
      expect(effectiveSets.map((c) => c.event.data.causes?.map((cause) => cause.type))).toEqual([
        ['ProductRegistered', 'EntitlementChanged', 'ProductsAssociated'],
        ['ProductRegistered', 'ProductsAssociated'],
      ]);
      expect(effectiveSets.map((c) => c.cause.type)).toEqual(['ProductsAssociated', 'ProductsAssociated']);
    });

    it('tells a new pair’s stateful sync, caused by the last event of either unit', () => {
      const h = new History();
      h.register(A);
      h.register(B);
      h.grant(A, 'STATEFUL_SYNC');
      const pair = h.associate(A, B)!;
      const { statefulSync } = new Publisher(NOW).project(h.events);
      expect(statefulSync).toHaveLength(1);
      expect(statefulSync[0]).toMatchObject({ streamId: `stateful-sync-${pair.pairId}`, expectedVersion: 0, status: ON });
      expect(statefulSync[0]!.event.data).toMatchObject({ pairId: pair.pairId, primarySerial: A, secondarySerial: B, ...ON });
      expect(statefulSync[0]!.event.data.causes?.map((c) => c.type)).toEqual([
        'ProductRegistered',
        'ProductRegistered',
        'EntitlementChanged',
        'ProductsAssociated',
      ]);
    });
  });

  describe('when sets were published before', () => {
    it.each([
      {
        when: 'the Secondary is granted a license of its own',
        then: [`effective-licenses-${B} v3 secondary [IPS]`],
        act: (h: History) => void h.grant(B, 'IPS'),
      },
      {
        when: 'the Primary is granted a shareable license',
        then: [`effective-licenses-${A} v3 primary [GATEWAY_AV]`, `effective-licenses-${B} v3 secondary [GATEWAY_AV]`],
        act: (h: History) => void h.grant(A, 'GATEWAY_AV'),
      },
      {
        when: 'the Secondary’s firmware changes',
        then: [],
        act: (h: History) => void h.changeFirmware(B, '7.0.2'),
      },
      {
        when: 'the pair is dissociated',
        then: [`effective-licenses-${A} v3 standalone []`, `effective-licenses-${B} v3 standalone []`],
        act: (h: History) => h.dissociate(A),
      },
    ])('publishes only the sets that changed, at the next version, when $when', ({ act, then }) => {
      const h = new History();
      h.register(A);
      h.register(B);
      h.associate(A, B);
      const publisher = new Publisher(NOW);
      publisher.project(h.events.slice(0, 2));
      publisher.project(h.events.slice(2));
      const from = h.events.length;
      act(h);
      expect(told(publisher.project(since(h, from))).filter((line) => line.startsWith('effective-licenses-'))).toEqual(then);
    });

    it('publishes nothing for events that did not apply (stale versions)', () => {
      const h = new History();
      h.register(A);
      h.changeFirmware(A, '7.0.2');
      const publisher = new Publisher(NOW);
      publisher.project(h.events);
      expect(told(publisher.project([h.events[0]!]))).toEqual([]);
    });
  });

  describe('when a pair ends', () => {
    it.each([
      { licensed: true, then: ['v2 NOT_PAIRED'] },
      { licensed: false, then: [] },
    ])('switches stateful sync off only if it was on (licensed: $licensed)', ({ licensed, then }) => {
      const h = new History();
      h.register(A);
      h.register(B);
      if (licensed) h.grant(A, 'STATEFUL_SYNC');
      h.associate(A, B);
      const publisher = new Publisher(NOW);
      publisher.project(h.events);
      const from = h.events.length;
      h.dissociate(A);
      const { statefulSync } = publisher.project(since(h, from));
      expect(statefulSync.map((c) => `v${c.expectedVersion + 1} ${c.status.reason ?? 'ON'}`)).toEqual(then);
    });

    it('announces the replaced pair off before the pair that replaced it', () => {
      const h = new History();
      [A, B, C].forEach((serial) => h.register(serial));
      h.grant(A, 'STATEFUL_SYNC');
      const old = h.associate(A, B)!;
      const publisher = new Publisher(NOW);
      publisher.project(h.events);
      const from = h.events.length;
      const { pair } = h.replace(B, C)!;
      const { statefulSync } = publisher.project(since(h, from));
      expect(statefulSync.map((c) => [c.pair.pairId, c.expectedVersion + 1, c.status])).toEqual([
        [old.pairId, 2, NOT_PAIRED],
        [pair.pairId, 1, ON],
      ]);
    });
  });
});

describe('publicationScope', () => {
  it('names every affected serial and every pair of one, so that what was published before can be loaded', () => {
    const h = new History();
    [A, B, C].forEach((serial) => h.register(serial));
    const ab = h.associate(A, B)!;
    const batch = applyEvents(emptyProjection(), h.events);
    expect(publicationScope(batch)).toEqual({ serials: [A, B, C], pairIds: [ab.pairId] });
    expect(decidePublication(batch, { sets: new Map(), statefulSync: new Map() }, NOW).effectiveSets).toHaveLength(3);
  });
});
