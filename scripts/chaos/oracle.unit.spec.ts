import { describe, expect, it } from '@jest/globals';
import {
  compareFacts,
  expectedFacts,
  observedFacts,
  type ModelLicense,
  type ModelPair,
  type ModelProduct,
  type ModelWorld,
} from './oracle.js';

const NOW = new Date('2026-06-01T00:00:00.000Z');
const LATER = '2027-06-01T00:00:00.000Z';
const EARLIER = '2026-05-01T00:00:00.000Z';
const P = 'AAAAAAAAAAAA';
const S = 'BBBBBBBBBBBB';
const PAIR = '11111111-1111-4111-8111-111111111111';

const product = (serial: string, overrides: Partial<ModelProduct> = {}): ModelProduct => ({
  serial,
  model: 'NSA 2700',
  accountId: 'acct-1',
  firmwareVersion: '7.0.1',
  ...overrides,
});
let nextId = 0;
const license = (serial: string, sku: string, overrides: Partial<ModelLicense> = {}): ModelLicense => ({
  licenseId: `00000000-0000-4000-8000-${String(++nextId).padStart(12, '0')}`,
  serial,
  sku,
  trial: false,
  expiresAt: LATER,
  status: 'active',
  ...overrides,
});
const pair = (status: ModelPair['status'] = 'associated'): ModelPair => ({
  pairId: PAIR,
  primarySerial: P,
  secondarySerial: S,
  status,
});

function given(products: ModelProduct[], pairs: ModelPair[], licenses: ModelLicense[]): ModelWorld {
  return {
    products: new Map(products.map((p) => [p.serial, p])),
    pairs: new Map(pairs.map((p) => [p.pairId, p])),
    licenses: new Map(licenses.map((l) => [l.licenseId, l])),
  };
}
const skusOf = (facts: string[]) =>
  facts
    .filter((f) => f.includes('license='))
    .map((f) => f.split(' ')[1])
    .sort();
const factOf = (facts: string[], key: string) => facts.find((f) => f.split(' ')[1]!.startsWith(`${key}=`))?.split('=')[1];

describe('the chaos oracle', () => {
  describe('when the units are paired', () => {
    const world = given(
      [product(P), product(S)],
      [pair()],
      [
        license(P, 'GATEWAY_AV'),
        license(P, 'SUPPORT_24X7', { expiresAt: null }),
        license(P, 'GMS_PREVENTIVE_MAINTENANCE'),
        license(P, 'STATEFUL_SYNC'),
        license(P, 'IPS', { status: 'revoked' }),
        license(P, 'APP_CONTROL', { expiresAt: EARLIER }),
        license(S, 'CAPTURE_ATP', { trial: true }),
      ],
    );

    it("gives the Secondary its own licenses and the Primary's usable shareable ones, not consulting or STATEFUL_SYNC", () => {
      expect(skusOf(expectedFacts(world, S, NOW))).toEqual(['CAPTURE_ATP', 'GATEWAY_AV', 'SUPPORT_24X7']);
    });

    it('gives the Primary only its own usable licenses, whatever their category', () => {
      expect(skusOf(expectedFacts(world, P, NOW))).toEqual([
        'GATEWAY_AV',
        'GMS_PREVENTIVE_MAINTENANCE',
        'STATEFUL_SYNC',
        'SUPPORT_24X7',
      ]);
    });

    it('names the roles and the peer', () => {
      expect(factOf(expectedFacts(world, S, NOW), 'role')).toBe('secondary');
      expect(factOf(expectedFacts(world, S, NOW), 'peer')).toBe(P);
      expect(factOf(expectedFacts(world, P, NOW), 'role')).toBe('primary');
    });

    it('turns stateful sync on for both units', () => {
      expect(factOf(expectedFacts(world, S, NOW), 'statefulSync')).toBe('true');
      expect(factOf(expectedFacts(world, P, NOW), 'statefulSync')).toBe('true');
    });
  });

  describe('when stateful sync cannot run', () => {
    it.each([
      ['a TZ model', { model: 'TZ 370' }, {}],
      ['firmware before 4.0 on the Secondary', {}, { firmwareVersion: '3.9.1' }],
    ])('keeps it off for %s', (_, primaryOverrides, secondaryOverrides) => {
      const world = given(
        [product(P, primaryOverrides), product(S, secondaryOverrides)],
        [pair()],
        [license(P, 'STATEFUL_SYNC')],
      );
      expect(factOf(expectedFacts(world, S, NOW), 'statefulSync')).toBe('false');
    });
  });

  describe('when the pair was dissociated', () => {
    it('shares nothing and leaves both units standalone', () => {
      const world = given(
        [product(P), product(S)],
        [pair('dissociated')],
        [license(P, 'GATEWAY_AV'), license(P, 'STATEFUL_SYNC')],
      );
      const facts = expectedFacts(world, S, NOW);
      expect(skusOf(facts)).toEqual([]);
      expect(factOf(facts, 'role')).toBe('standalone');
      expect(factOf(facts, 'statefulSync')).toBe('false');
    });
  });

  describe('comparing with what the sync agent shows', () => {
    const world = given(
      [product(P), product(S)],
      [pair()],
      [license(P, 'GATEWAY_AV', { licenseId: '22222222-2222-4222-8222-222222222222' })],
    );
    const correct = {
      role: 'secondary',
      peerSerial: P,
      pairId: PAIR,
      licenses: [
        {
          sku: 'GATEWAY_AV',
          sources: [{ licenseId: '22222222-2222-4222-8222-222222222222', expiresAt: '2027-06-01T00:00:00Z' }],
        },
      ],
      statefulSync: { enabled: false },
    };

    it('finds nothing missing or extra in a correct set (instants compared as instants)', () => {
      expect(compareFacts(expectedFacts(world, S, NOW), observedFacts(S, correct))).toEqual({ missing: [], extra: [] });
    });

    it('reports a stale expiry as one missing and one extra line', () => {
      const stale = {
        ...correct,
        licenses: [{ sku: 'GATEWAY_AV', sources: [{ ...correct.licenses[0]!.sources[0]!, expiresAt: EARLIER }] }],
      };
      const diff = compareFacts(expectedFacts(world, S, NOW), observedFacts(S, stale));
      expect(diff.missing).toHaveLength(1);
      expect(diff.extra).toHaveLength(1);
    });

    it('reports a license that should be gone as extra', () => {
      const revoked = given(
        [product(P), product(S)],
        [pair()],
        [{ ...world.licenses.values().next().value!, status: 'revoked' }],
      );
      expect(compareFacts(expectedFacts(revoked, S, NOW), observedFacts(S, correct))).toEqual({
        missing: [],
        extra: [`${S} GATEWAY_AV license=22222222-2222-4222-8222-222222222222 expires=2027-06-01T00:00:00.000Z`],
      });
    });
  });
});
