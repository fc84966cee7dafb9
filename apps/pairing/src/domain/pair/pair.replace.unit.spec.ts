import { describe, expect, it } from '@jest/globals';
import { RuleViolation, fold, type RuleViolationKind } from '#shared/contracts';
import { specFor } from '#shared/testing/decider';
import type { RegisteredProduct } from '../product/product.state.js';
import type { DissociateProducts, ReplaceUnit, ReplacementContext } from './pair.commands.js';
import { pairDecider } from './pair.decide.js';
import type { PairEvent, ProductsAssociated, ProductsDissociated } from './pair.events.js';
import { replaceUnit, type ReplacementEvents } from './pair.replace.js';

const pairId = '5f0c2a8e-6d1b-4c3e-9a7f-1b2c3d4e5f60';
const newPairId = '7c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f';
const nextPairId = '2b3c4d5e-6f70-4a8b-9c0d-1e2f3a4b5c6d';
const otherPairId = '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const primarySerial = '0040103A1B2C';
const secondarySerial = '0040103A1B2D';
const replacementSerial = '0040103A1B2E';
const strangerSerial = '0040103A1B2F';
const associatedAt = new Date('2025-03-01T10:00:00.000Z');
const replacedAt = new Date('2025-05-10T07:45:00.000Z');
const laterAt = new Date('2025-06-01T09:00:00.000Z');

const product = (serial: string, overrides: Partial<RegisteredProduct> = {}): RegisteredProduct => ({
  status: 'registered',
  serial,
  model: 'NSA 2700',
  firmwareVersion: '7.0.1',
  accountId: 'acct-1',
  registeredAt: '2025-01-01T00:00:00.000Z',
  ...overrides,
});

const replace = (data: Partial<ReplaceUnit['data']> = {}, context: Partial<ReplacementContext> = {}): ReplaceUnit => ({
  type: 'ReplaceUnit',
  data: { pairId, newPairId, failedSerial: primarySerial, replacementSerial, ...data },
  context: { replacement: product(data.replacementSerial ?? replacementSerial), pairOfReplacement: null, ...context },
  metadata: { now: replacedAt },
});

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
  data: { ...associated.data, dissociatedAt: laterAt.toISOString(), replacedBy: null },
};

/** The old pair's end when it was replaced by `replacedBy` at `replacedAt`. */
const dissociatedByReplacement = (pair: ProductsAssociated['data'], replacedBy: string): ProductsDissociated => ({
  type: 'ProductsDissociated',
  data: { ...pair, dissociatedAt: replacedAt.toISOString(), replacedBy },
});

/** Given the old pair's events, when a replacement, then the events of both streams or a rule error. */
function givenPair(events: readonly PairEvent[]) {
  const state = fold(pairDecider, events);
  return {
    when(command: ReplaceUnit) {
      const run = () => replaceUnit(command, state);
      return {
        then(expected: ReplacementEvents) {
          expect(run()).toEqual(expected);
        },
        thenThrows(code: string, kind?: RuleViolationKind, message?: string) {
          let thrown: unknown;
          try {
            run();
          } catch (error) {
            thrown = error;
          }
          expect(thrown).toBeInstanceOf(RuleViolation);
          const violation = thrown as RuleViolation;
          expect(violation.code).toBe(code);
          if (kind !== undefined) expect(violation.kind).toBe(kind);
          if (message !== undefined) expect(violation.message).toContain(message);
        },
      };
    },
  };
}

describe('replacing a unit of a pair', () => {
  describe('when the Primary failed', () => {
    const result = () => replaceUnit(replace({ failedSerial: primarySerial }), fold(pairDecider, [associated]));

    it('makes the old Secondary the Primary and successor, and the replacement the Secondary; the old pair ends replaced by the new one', () => {
      givenPair([associated])
        .when(replace({ failedSerial: primarySerial }))
        .then({
          newPair: [
            {
              type: 'ProductsAssociated',
              data: {
                pairId: newPairId,
                primarySerial: secondarySerial,
                secondarySerial: replacementSerial,
                model: 'NSA 2700',
                accountId: 'acct-1',
                associatedAt: replacedAt.toISOString(),
                replaces: { pairId, failedSerial: primarySerial, replacementSerial, successorSerial: secondarySerial },
              },
            },
          ],
          oldPair: [dissociatedByReplacement(associated.data, newPairId)],
        });
    });

    it('folds the new pair into an associated state that names the pair it replaces', () => {
      expect(fold(pairDecider, result().newPair)).toEqual({
        status: 'associated',
        pairId: newPairId,
        primarySerial: secondarySerial,
        secondarySerial: replacementSerial,
        model: 'NSA 2700',
        accountId: 'acct-1',
        associatedAt: replacedAt.toISOString(),
        replaces: { pairId, failedSerial: primarySerial, replacementSerial, successorSerial: secondarySerial },
      });
    });

    it('folds the old pair into a dissociated state that names the pair that replaced it', () => {
      expect(fold(pairDecider, [associated, ...result().oldPair])).toEqual({
        status: 'dissociated',
        ...associated.data,
        dissociatedAt: replacedAt.toISOString(),
        replacedBy: newPairId,
      });
    });
  });

  describe('when the Secondary failed', () => {
    it('keeps the Primary and makes the replacement the Secondary and successor', () => {
      givenPair([associated])
        .when(replace({ failedSerial: secondarySerial }))
        .then({
          newPair: [
            {
              type: 'ProductsAssociated',
              data: {
                pairId: newPairId,
                primarySerial,
                secondarySerial: replacementSerial,
                model: 'NSA 2700',
                accountId: 'acct-1',
                associatedAt: replacedAt.toISOString(),
                replaces: { pairId, failedSerial: secondarySerial, replacementSerial, successorSerial: replacementSerial },
              },
            },
          ],
          oldPair: [dissociatedByReplacement(associated.data, newPairId)],
        });
    });
  });

  describe('when the pair was itself formed by a replacement', () => {
    const formed = replaceUnit(replace({ failedSerial: primarySerial }), fold(pairDecider, [associated])).newPair[0];
    const nextReplacement = '0040103A1B30';

    it('replaces again: the old pair ends with its own `replaces` kept and the new pair points to it', () => {
      givenPair([formed])
        .when(
          replace({
            pairId: newPairId,
            newPairId: nextPairId,
            failedSerial: replacementSerial,
            replacementSerial: nextReplacement,
          }),
        )
        .then({
          newPair: [
            {
              type: 'ProductsAssociated',
              data: {
                pairId: nextPairId,
                primarySerial: secondarySerial,
                secondarySerial: nextReplacement,
                model: 'NSA 2700',
                accountId: 'acct-1',
                associatedAt: replacedAt.toISOString(),
                replaces: {
                  pairId: newPairId,
                  failedSerial: replacementSerial,
                  replacementSerial: nextReplacement,
                  successorSerial: nextReplacement,
                },
              },
            },
          ],
          oldPair: [dissociatedByReplacement(formed.data, nextPairId)],
        });
    });

    it('keeps `replaces` on a plain dissociation, with replacedBy null', () => {
      const dissociate: DissociateProducts = {
        type: 'DissociateProducts',
        data: { pairId: newPairId },
        metadata: { now: laterAt },
      };
      specFor(pairDecider)
        .given([formed])
        .when(dissociate)
        .then([
          {
            type: 'ProductsDissociated',
            data: { ...formed.data, dissociatedAt: laterAt.toISOString(), replacedBy: null },
          },
        ]);
    });
  });

  it('takes model and account from the pair', () => {
    const tz = { ...associated, data: { ...associated.data, model: 'TZ 470', accountId: 'acct-9' } };
    const { newPair } = replaceUnit(
      replace(
        { failedSerial: secondarySerial },
        { replacement: product(replacementSerial, { model: 'TZ 470', accountId: 'acct-9' }) },
      ),
      fold(pairDecider, [tz]),
    );
    expect(newPair[0].data).toEqual(expect.objectContaining({ model: 'TZ 470', accountId: 'acct-9' }));
  });

  it('reads an association stored before replacements existed (no `replaces` field) as replacing nothing', () => {
    const { replaces: _omitted, ...legacy } = associated.data;
    expect(fold(pairDecider, [{ type: 'ProductsAssociated', data: legacy }])).toEqual({
      status: 'associated',
      ...associated.data,
    });
    expect(
      fold(pairDecider, [{ type: 'ProductsDissociated', data: { ...legacy, dissociatedAt: laterAt.toISOString() } }]),
    ).toEqual({ status: 'dissociated', ...dissociated.data });
  });

  describe('rules', () => {
    it.each<[string, readonly PairEvent[], ReplaceUnit, string, RuleViolationKind, string]>([
      ['a pair that does not exist', [], replace(), 'PAIR_NOT_FOUND', 'not-found', `Pair "${pairId}" does not exist`],
      [
        'a dissociated pair',
        [associated, dissociated],
        replace(),
        'PAIR_DISSOCIATED',
        'conflict',
        `Pair "${pairId}" is already dissociated`,
      ],
      [
        'a pair that was already replaced',
        [associated, dissociatedByReplacement(associated.data, otherPairId)],
        replace(),
        'PAIR_DISSOCIATED',
        'conflict',
        `Pair "${pairId}" is already dissociated`,
      ],
      [
        'a failed unit that is not in the pair',
        [associated],
        replace({ failedSerial: strangerSerial }),
        'UNIT_NOT_IN_PAIR',
        'conflict',
        `Product "${strangerSerial}" is not a unit of pair "${pairId}"`,
      ],
      [
        'the failed unit as its own replacement',
        [associated],
        replace({ failedSerial: primarySerial, replacementSerial: primarySerial }),
        'SAME_PRODUCT',
        'conflict',
        `Product "${primarySerial}" is already a unit of pair "${pairId}"`,
      ],
      [
        'the other unit of the pair as the replacement',
        [associated],
        replace({ failedSerial: primarySerial, replacementSerial: secondarySerial }),
        'SAME_PRODUCT',
        'conflict',
        `Product "${secondarySerial}" is already a unit of pair "${pairId}"`,
      ],
      [
        'an unregistered replacement',
        [associated],
        replace({}, { replacement: null }),
        'PRODUCT_NOT_FOUND',
        'not-found',
        `Product "${replacementSerial}" is not registered`,
      ],
      [
        'a replacement of another model',
        [associated],
        replace({}, { replacement: product(replacementSerial, { model: 'NSA 4700' }) }),
        'MODEL_MISMATCH',
        'conflict',
        'The pair is a "NSA 2700" but the replacement is a "NSA 4700"',
      ],
      [
        'a replacement of another account',
        [associated],
        replace({}, { replacement: product(replacementSerial, { accountId: 'acct-2' }) }),
        'ACCOUNT_MISMATCH',
        'conflict',
        'account "acct-1" but the replacement to "acct-2"',
      ],
      [
        'a replacement that is in another pair',
        [associated],
        replace({}, { pairOfReplacement: otherPairId }),
        'ALREADY_PAIRED',
        'conflict',
        `Product "${replacementSerial}" is already in pair "${otherPairId}"`,
      ],
    ])('rejects %s', (_case, given, command, code, kind, message) => {
      givenPair(given).when(command).thenThrows(code, kind, message);
    });

    // Each row breaks its own rule and every later one, so it shows which rule wins.
    const everythingWrong: Partial<ReplacementContext> = {
      replacement: null,
      pairOfReplacement: otherPairId,
    };
    it.each<[string, readonly PairEvent[], ReplaceUnit, string]>([
      ['a missing pair before anything else', [], replace({ failedSerial: strangerSerial }, everythingWrong), 'PAIR_NOT_FOUND'],
      [
        'a dissociated pair before a stranger as the failed unit',
        [associated, dissociated],
        replace({ failedSerial: strangerSerial }, everythingWrong),
        'PAIR_DISSOCIATED',
      ],
      [
        'a stranger as the failed unit before a unit of the pair as the replacement',
        [associated],
        replace({ failedSerial: strangerSerial, replacementSerial: secondarySerial }, everythingWrong),
        'UNIT_NOT_IN_PAIR',
      ],
      [
        'a unit of the pair as the replacement before a missing replacement',
        [associated],
        replace({ replacementSerial: secondarySerial }, everythingWrong),
        'SAME_PRODUCT',
      ],
      ['a missing replacement before an existing pairing', [associated], replace({}, everythingWrong), 'PRODUCT_NOT_FOUND'],
      [
        'a model mismatch before an account mismatch',
        [associated],
        replace(
          {},
          { replacement: product(replacementSerial, { model: 'TZ 270', accountId: 'acct-2' }), pairOfReplacement: otherPairId },
        ),
        'MODEL_MISMATCH',
      ],
      [
        'an account mismatch before an existing pairing',
        [associated],
        replace({}, { replacement: product(replacementSerial, { accountId: 'acct-2' }), pairOfReplacement: otherPairId }),
        'ACCOUNT_MISMATCH',
      ],
    ])('reports %s', (_case, given, command, code) => {
      givenPair(given).when(command).thenThrows(code);
    });
  });
});
