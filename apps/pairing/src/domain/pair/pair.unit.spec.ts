import { describe, expect, it } from '@jest/globals';
import { RuleViolation, fold } from '#shared/contracts';
import { specFor } from '#shared/testing/decider';
import type { RegisteredProduct } from '../product/product.state.js';
import type { AssociateProducts, AssociationContext, DissociateProducts } from './pair.commands.js';
import { pairDecider } from './pair.decide.js';
import type { ProductsAssociated, ProductsDissociated } from './pair.events.js';

const pairId = '5f0c2a8e-6d1b-4c3e-9a7f-1b2c3d4e5f60';
const otherPairId = '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const primarySerial = '0040103A1B2C';
const secondarySerial = '0040103A1B2D';
const associatedAt = new Date('2025-03-01T10:00:00.000Z');
const dissociatedAt = new Date('2025-04-01T12:00:00.000Z');

const product = (serial: string, overrides: Partial<RegisteredProduct> = {}): RegisteredProduct => ({
  status: 'registered',
  serial,
  model: 'NSA 2700',
  firmwareVersion: '7.0.1',
  accountId: 'acct-1',
  registeredAt: '2025-01-01T00:00:00.000Z',
  ...overrides,
});

const associate = (
  context: Partial<AssociationContext> = {},
  data: Partial<AssociateProducts['data']> = {},
): AssociateProducts => ({
  type: 'AssociateProducts',
  data: { pairId, primarySerial, secondarySerial, ...data },
  context: {
    primary: product(primarySerial),
    secondary: product(secondarySerial),
    pairOfPrimary: null,
    pairOfSecondary: null,
    ...context,
  },
  metadata: { now: associatedAt },
});

const dissociate: DissociateProducts = {
  type: 'DissociateProducts',
  data: { pairId },
  metadata: { now: dissociatedAt },
};

const associated: ProductsAssociated = {
  type: 'ProductsAssociated',
  data: {
    pairId,
    primarySerial,
    secondarySerial,
    model: 'NSA 2700',
    accountId: 'acct-1',
    associatedAt: associatedAt.toISOString(),
    replaces: null,
  },
};

const dissociated: ProductsDissociated = {
  type: 'ProductsDissociated',
  data: { ...associated.data, dissociatedAt: dissociatedAt.toISOString(), replacedBy: null },
};

const spec = specFor(pairDecider);

function violationOf(run: () => unknown): RuleViolation {
  try {
    run();
  } catch (error) {
    if (error instanceof RuleViolation) return error;
    throw error;
  }
  throw new Error('expected a RuleViolation');
}

describe('pair', () => {
  describe('when there is no pair', () => {
    it('associates two registered products of one model and account', () => {
      spec.given([]).when(associate()).then([associated]);
    });

    it('takes model and account from the products', () => {
      const primary = product(primarySerial, { model: 'TZ 470', accountId: 'acct-9' });
      const secondary = product(secondarySerial, { model: 'TZ 470', accountId: 'acct-9' });
      spec
        .given([])
        .when(associate({ primary, secondary }))
        .then([{ ...associated, data: { ...associated.data, model: 'TZ 470', accountId: 'acct-9' } }]);
    });

    it('folds the association into an associated state', () => {
      expect(fold(pairDecider, [associated])).toEqual({ status: 'associated', ...associated.data });
    });

    it.each<[string, AssociateProducts, string, string, string]>([
      [
        'a product paired with itself',
        associate({}, { secondarySerial: primarySerial }),
        'SAME_PRODUCT',
        'conflict',
        `Product "${primarySerial}" cannot be paired with itself`,
      ],
      [
        'an unregistered Primary',
        associate({ primary: null }),
        'PRODUCT_NOT_FOUND',
        'not-found',
        `Product "${primarySerial}" is not registered`,
      ],
      [
        'an unregistered Secondary',
        associate({ secondary: null }),
        'PRODUCT_NOT_FOUND',
        'not-found',
        `Product "${secondarySerial}" is not registered`,
      ],
      [
        'products of different models',
        associate({ secondary: product(secondarySerial, { model: 'NSA 3700' }) }),
        'MODEL_MISMATCH',
        'conflict',
        '"NSA 2700" but the Secondary is a "NSA 3700"',
      ],
      [
        'products of different accounts',
        associate({ secondary: product(secondarySerial, { accountId: 'acct-2' }) }),
        'ACCOUNT_MISMATCH',
        'conflict',
        'account "acct-1" but the Secondary to "acct-2"',
      ],
      [
        'a Primary that is already paired',
        associate({ pairOfPrimary: otherPairId }),
        'ALREADY_PAIRED',
        'conflict',
        `Product "${primarySerial}" is already in pair "${otherPairId}"`,
      ],
      [
        'a second Secondary',
        associate({ pairOfSecondary: otherPairId }),
        'ALREADY_PAIRED',
        'conflict',
        `Product "${secondarySerial}" is already in pair "${otherPairId}"`,
      ],
    ])('rejects %s', (_case, command, code, kind, message) => {
      spec.given([]).when(command).thenThrows(code);
      const violation = violationOf(() => pairDecider.decide(command, pairDecider.initialState));
      expect(violation.kind).toBe(kind);
      expect(violation.message).toContain(message);
    });

    // Each row breaks its own rule and every later one, so it shows which rule wins.
    it.each<[string, AssociateProducts, string]>([
      [
        'the same product before a missing one',
        associate({ primary: null, secondary: null }, { secondarySerial: primarySerial }),
        'SAME_PRODUCT',
      ],
      [
        'a missing product before a model mismatch',
        associate({ primary: null, secondary: product(secondarySerial, { model: 'TZ 270' }) }),
        'PRODUCT_NOT_FOUND',
      ],
      [
        'a model mismatch before an account mismatch',
        associate({ secondary: product(secondarySerial, { model: 'TZ 270', accountId: 'acct-2' }), pairOfPrimary: otherPairId }),
        'MODEL_MISMATCH',
      ],
      [
        'an account mismatch before an existing pairing',
        associate({ secondary: product(secondarySerial, { accountId: 'acct-2' }), pairOfSecondary: otherPairId }),
        'ACCOUNT_MISMATCH',
      ],
    ])('reports %s', (_case, command, code) => {
      spec.given([]).when(command).thenThrows(code);
    });

    it('rejects dissociating a pair that does not exist', () => {
      spec.given([]).when(dissociate).thenThrows('PAIR_NOT_FOUND');
      const violation = violationOf(() => pairDecider.decide(dissociate, pairDecider.initialState));
      expect(violation.kind).toBe('not-found');
      expect(violation.message).toContain(pairId);
    });
  });

  describe('when paired', () => {
    it('dissociates with every associated field and the dissociation time', () => {
      spec.given([associated]).when(dissociate).then([dissociated]);
    });

    it('rejects associating under the same pair id again', () => {
      spec.given([associated]).when(associate()).thenThrows('PAIR_ALREADY_EXISTS');
    });

    it('reports an existing pairing of a product before the existing pair id', () => {
      spec
        .given([associated])
        .when(associate({ pairOfPrimary: pairId }))
        .thenThrows('ALREADY_PAIRED');
    });
  });

  describe('when dissociated', () => {
    it('folds associate then dissociate into a dissociated state', () => {
      expect(fold(pairDecider, [associated, dissociated])).toEqual({ status: 'dissociated', ...dissociated.data });
    });

    it('rejects dissociating twice', () => {
      spec.given([associated, dissociated]).when(dissociate).thenThrows('PAIR_DISSOCIATED');
      const state = fold(pairDecider, [associated, dissociated]);
      const violation = violationOf(() => pairDecider.decide(dissociate, state));
      expect(violation.kind).toBe('conflict');
      expect(violation.message).toContain(pairId);
    });

    it('rejects reusing the pair id for a new association', () => {
      spec.given([associated, dissociated]).when(associate()).thenThrows('PAIR_ALREADY_EXISTS');
    });
  });
});
