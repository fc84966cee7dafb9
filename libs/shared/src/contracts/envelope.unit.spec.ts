import { describe, expect, it } from '@jest/globals';
import { EVENT_CATALOG, type EventType } from './event-catalog.js';
import { InvalidEventError, parseEnvelope } from './envelope.js';
import { busNames } from './subjects.js';
import { sampleEvent, testEnvelope } from '../testing/sample-events.js';

const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

function rejection(body: string | Uint8Array): InvalidEventError {
  try {
    parseEnvelope(body);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  throw new Error(`expected InvalidEventError for ${String(body)}`);
}

function withEnvelope(patch: Record<string, unknown>): string {
  return JSON.stringify({ ...testEnvelope(sampleEvent('ProductRegistered')), ...patch });
}

describe('parseEnvelope', () => {
  describe('given a valid envelope', () => {
    it.each(EVENT_TYPES)('accepts %s as text and as bytes', (type) => {
      const envelope = testEnvelope(sampleEvent(type));
      expect(parseEnvelope(JSON.stringify(envelope))).toEqual(envelope);
      expect(parseEnvelope(new TextEncoder().encode(JSON.stringify(envelope)))).toEqual(envelope);
    });

    it('keeps the correlation and causation ids', () => {
      const envelope = testEnvelope(sampleEvent('ProductRegistered'), {
        metadata: { correlationId: 'req-1', causationId: 'evt-0' },
      });
      expect(parseEnvelope(JSON.stringify(envelope)).metadata).toEqual({ correlationId: 'req-1', causationId: 'evt-0' });
    });
  });

  describe('given a message that is not an event', () => {
    it.each([
      ['{"eventId": ', 'MALFORMED_JSON'],
      ['42', 'NOT_AN_ENVELOPE'],
      [withEnvelope({ type: 'ProductExploded' }), 'UNKNOWN_EVENT_TYPE'],
      [withEnvelope({ schemaVersion: 2 }), 'UNSUPPORTED_SCHEMA_VERSION'],
      [JSON.stringify(testEnvelope(sampleEvent('ProductRegistered', { serial: 'x' }))), 'SCHEMA_VIOLATION'],
    ])('names the reason of %s as %s', (body, reason) => {
      expect(rejection(body).reason).toBe(reason);
    });

    it('rejects a body that is not JSON', () => {
      expect(rejection('{"eventId": ').message).toBe('message body is not valid JSON');
      expect(rejection(new Uint8Array([0xff, 0xfe])).message).toBe('message body is not valid JSON');
    });

    it('rejects JSON that is not an envelope, naming the fields', () => {
      expect(rejection('42').message).toMatch(/^message is not an event envelope: \(root\): /);
      const { eventId: _eventId, ...withoutId } = testEnvelope(sampleEvent('ProductRegistered'));
      const error = rejection(JSON.stringify({ ...withoutId, streamVersion: 0 }));
      expect(error.message).toMatch(/^message is not an event envelope: /);
      expect(error.issues).toEqual(
        expect.arrayContaining([expect.stringMatching(/^eventId: /), expect.stringMatching(/^streamVersion: /)]),
      );
    });

    it.each([['ProductExploded'], ['constructor'], ['toString'], ['__proto__']])('rejects the unknown event type %s', (type) => {
      expect(rejection(withEnvelope({ type })).message).toBe(`unknown event type ${type}`);
    });

    it('rejects a schema version the catalog does not list', () => {
      expect(rejection(withEnvelope({ schemaVersion: 2 })).message).toBe(
        'unsupported schema version 2 of ProductRegistered (supported: 1)',
      );
    });

    it('rejects data that fails its event schema, naming the field and the rule', () => {
      const error = rejection(JSON.stringify(testEnvelope(sampleEvent('ProductRegistered', { serial: '0123456789ab' }))));
      expect(error.message).toBe('ProductRegistered fails its schema: serial: a serial is 12 characters 0-9A-F');
      expect(
        rejection(JSON.stringify(testEnvelope(sampleEvent('EntitlementChanged', { change: 'stolen' as never })))).message,
      ).toMatch(/^EntitlementChanged fails its schema: change: /);
    });
  });
});

describe('busNames', () => {
  const associated = sampleEvent('ProductsAssociated', { primarySerial: 'AAAAAAAAAAAA', secondarySerial: 'BBBBBBBBBBBB' });
  const licenseChanged = sampleEvent('EntitlementChanged');
  licenseChanged.data.license.serial = 'CCCCCCCCCCCC';

  describe('without a namespace (production)', () => {
    const names = busNames();

    it('builds <source>.v<schemaVersion>.<token>.<key> subjects', () => {
      expect(names.subjectOf(associated)).toBe('pairing.v1.products-associated.BBBBBBBBBBBB');
      expect(names.subjectOf(sampleEvent('ProductsDissociated', { secondarySerial: 'BBBBBBBBBBBB' }))).toBe(
        'pairing.v1.products-dissociated.BBBBBBBBBBBB',
      );
      expect(names.subjectOf(sampleEvent('ProductRegistered', { serial: 'DDDDDDDDDDDD' }))).toBe(
        'pairing.v1.product-registered.DDDDDDDDDDDD',
      );
      expect(names.subjectOf(sampleEvent('ProductFirmwareChanged', { serial: 'DDDDDDDDDDDD' }))).toBe(
        'pairing.v1.product-firmware-changed.DDDDDDDDDDDD',
      );
      expect(names.subjectOf(licenseChanged)).toBe('licensing.v1.entitlement-changed.CCCCCCCCCCCC');
      expect(names.subjectOf(sampleEvent('EffectiveLicensesChanged', { serial: 'EEEEEEEEEEEE' }))).toBe(
        'sync-agent.v1.effective-licenses-changed.EEEEEEEEEEEE',
      );
    });

    it('builds stream names, stream filters, per-type subjects and the lookup subject', () => {
      expect(names.stream('pairing')).toBe('PAIRING');
      expect(names.stream('sync-agent')).toBe('SYNC_AGENT');
      expect(names.allSubjects('licensing')).toBe('licensing.>');
      expect(names.subjectsOfType('ProductsAssociated')).toBe('pairing.v1.products-associated.*');
      expect(names.productLookup).toBe('rpc.pairing.v1.get-product');
    });
  });

  describe('with a namespace', () => {
    const names = busNames('run-7_a');

    it('prefixes every subject with the namespace token', () => {
      expect(names.namespace).toBe('run-7_a');
      expect(names.subjectOf(associated)).toBe('run-7_a.pairing.v1.products-associated.BBBBBBBBBBBB');
      expect(names.subjectOf(licenseChanged)).toBe('run-7_a.licensing.v1.entitlement-changed.CCCCCCCCCCCC');
      expect(names.allSubjects('sync-agent')).toBe('run-7_a.sync-agent.>');
      expect(names.subjectsOfType('EntitlementChanged')).toBe('run-7_a.licensing.v1.entitlement-changed.*');
      expect(names.productLookup).toBe('run-7_a.rpc.pairing.v1.get-product');
    });

    it('prefixes every stream name with the upper-cased namespace', () => {
      expect(names.stream('pairing')).toBe('RUN_7_A_PAIRING');
      expect(names.stream('sync-agent')).toBe('RUN_7_A_SYNC_AGENT');
    });

    it.each([['Upper'], ['a.b'], ['a b'], ['a*'], ['>']])('rejects the namespace %j', (namespace) => {
      expect(() => busNames(namespace)).toThrow(/may only contain a-z, 0-9, _ and -/);
    });
  });
});
