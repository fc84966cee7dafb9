import { describe, expect, it } from '@jest/globals';
import { RuleViolation, fold } from '#shared/contracts';
import { specFor } from '#shared/testing/decider';
import type { ChangeFirmware, RegisterProduct } from './product.commands.js';
import { productDecider } from './product.decide.js';
import type { ProductEvent, ProductFirmwareChanged, ProductRegistered } from './product.events.js';

const now = new Date('2025-03-01T10:00:00.000Z');
const later = new Date('2025-03-02T08:30:00.000Z');
const serial = '0040103A1B2C';

const register = (data: Partial<RegisterProduct['data']> = {}): RegisterProduct => ({
  type: 'RegisterProduct',
  data: { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'acct-1', ...data },
  metadata: { now },
});

const changeFirmware = (firmwareVersion: string, data: Partial<ChangeFirmware['data']> = {}): ChangeFirmware => ({
  type: 'ChangeFirmware',
  data: { serial, firmwareVersion, ...data },
  metadata: { now: later },
});

const registered: ProductRegistered = {
  type: 'ProductRegistered',
  data: {
    serial,
    model: 'NSA 2700',
    firmwareVersion: '7.0.1',
    accountId: 'acct-1',
    registeredAt: now.toISOString(),
  },
};

const firmwareChanged = (previousFirmwareVersion: string, firmwareVersion: string): ProductFirmwareChanged => ({
  type: 'ProductFirmwareChanged',
  data: {
    serial,
    model: 'NSA 2700',
    accountId: 'acct-1',
    previousFirmwareVersion,
    firmwareVersion,
    changedAt: later.toISOString(),
  },
});

const spec = specFor(productDecider);

function violationOf(run: () => unknown): RuleViolation {
  try {
    run();
  } catch (error) {
    if (error instanceof RuleViolation) return error;
    throw error;
  }
  throw new Error('expected a RuleViolation');
}

describe('product', () => {
  describe('when unregistered', () => {
    it('registers a product with the command time as registeredAt', () => {
      spec.given([]).when(register()).then([registered]);
    });

    it('folds the registration into a registered state', () => {
      expect(fold(productDecider, [registered])).toEqual({
        status: 'registered',
        serial,
        model: 'NSA 2700',
        firmwareVersion: '7.0.1',
        accountId: 'acct-1',
        registeredAt: '2025-03-01T10:00:00.000Z',
      });
    });

    it.each([
      ['an unknown model', register({ model: 'XYZ' }), 'UNKNOWN_MODEL', 'Model "XYZ" is not in the model catalog'],
      [
        'a model written without its space',
        register({ model: 'NSA2700' }),
        'UNKNOWN_MODEL',
        'valid models: "NSA 2700", "NSA 3700"',
      ],
      ['a lowercase serial', register({ serial: '0040103a1b2c' }), 'INVALID_SERIAL', 'Serial "0040103a1b2c"'],
      ['a short serial', register({ serial: '0040103A1B' }), 'INVALID_SERIAL', 'Serial "0040103A1B"'],
      ['a non-numeric firmware version', register({ firmwareVersion: 'seven' }), 'INVALID_FIRMWARE_VERSION', '"seven"'],
      ['a single-part firmware version', register({ firmwareVersion: '7' }), 'INVALID_FIRMWARE_VERSION', '"7"'],
    ])('rejects registering with %s', (_case, command, code, message) => {
      spec.given([]).when(command).thenThrows(code);
      const violation = violationOf(() => productDecider.decide(command, productDecider.initialState));
      expect(violation.kind).toBe('invalid');
      expect(violation.message).toContain(message);
    });

    it('rejects a firmware change as not found', () => {
      spec.given([]).when(changeFirmware('7.1')).thenThrows('PRODUCT_NOT_FOUND');
    });

    it('reports a malformed firmware version before the missing product', () => {
      spec.given([]).when(changeFirmware('latest')).thenThrows('INVALID_FIRMWARE_VERSION');
    });

    it('names the serial when the product is not found', () => {
      const violation = violationOf(() => productDecider.decide(changeFirmware('7.1'), productDecider.initialState));
      expect(violation.kind).toBe('not-found');
      expect(violation.message).toBe(`Product "${serial}" is not registered`);
    });
  });

  describe('when registered', () => {
    it('rejects a second registration of the same serial', () => {
      spec
        .given([registered])
        .when(register({ accountId: 'acct-2' }))
        .thenThrows('PRODUCT_ALREADY_REGISTERED');
      const state = fold(productDecider, [registered]);
      const violation = violationOf(() => productDecider.decide(register(), state));
      expect(violation.kind).toBe('conflict');
      expect(violation.message).toContain(serial);
    });

    it('records a firmware change with the previous version and the product details', () => {
      spec
        .given([registered])
        .when(changeFirmware('7.1.2'))
        .then([firmwareChanged('7.0.1', '7.1.2')]);
    });

    it('emits nothing when the firmware version is unchanged', () => {
      spec.given([registered]).when(changeFirmware('7.0.1')).then([]);
    });

    it.each([['7'], ['7.0.1.2.3'], ['v7.1']])('rejects the invalid firmware version %s', (version) => {
      spec.given([registered]).when(changeFirmware(version)).thenThrows('INVALID_FIRMWARE_VERSION');
    });

    it('rejects a firmware change for a malformed serial', () => {
      spec
        .given([registered])
        .when(changeFirmware('7.1', { serial: 'nope' }))
        .thenThrows('INVALID_SERIAL');
    });
  });

  describe('when the firmware has changed', () => {
    const history: ProductEvent[] = [registered, firmwareChanged('7.0.1', '7.1.2')];

    it('folds the new firmware version into the state', () => {
      expect(fold(productDecider, history)).toMatchObject({ status: 'registered', firmwareVersion: '7.1.2' });
    });

    it('reports the current version as previous on the next change', () => {
      spec
        .given(history)
        .when(changeFirmware('7.2'))
        .then([firmwareChanged('7.1.2', '7.2')]);
    });

    it('treats a change back to the current version as a no-op', () => {
      spec.given(history).when(changeFirmware('7.1.2')).then([]);
    });
  });
});
