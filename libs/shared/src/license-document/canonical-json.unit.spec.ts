import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalJson } from './canonical-json.js';

describe('canonicalJson', () => {
  describe('given the same data with keys in another order', () => {
    it('writes the same text', () => {
      const a = { b: 1, a: { d: [1, { y: true, x: null }], c: 'x' } };
      const b = { a: { c: 'x', d: [1, { x: null, y: true }] }, b: 1 };
      expect(canonicalJson(a)).toBe(canonicalJson(b));
      expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[1,{"x":null,"y":true}]},"b":1}');
    });

    it('writes the same text for any JSON value, whatever its key order (property)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          expect(canonicalJson(reverseKeys(value))).toBe(canonicalJson(value));
        }),
      );
    });
  });

  describe('given arrays', () => {
    it('keeps their order (order is data)', () => {
      expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    });
  });

  describe('given any JSON value', () => {
    it('reads back as the same value (property)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
        }),
      );
    });
  });

  describe('given the RFC 8785 examples', () => {
    it('sorts keys by UTF-16 code units (section 3.2.3)', () => {
      const input = JSON.parse(
        '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",' +
          '"\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
      );
      // Read the order from the text: Object.keys would list the integer-like key "1" first whatever the text says.
      const keys = [...canonicalJson(input).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map(([, key]) => JSON.parse(`"${key}"`) as string);
      expect(keys).toEqual(['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
    });

    it('writes numbers, strings and literals as JCS does (section 3.2.2)', () => {
      const input = JSON.parse(
        '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
          '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
      );
      expect(canonicalJson(input)).toBe(
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
          '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
      );
    });
  });

  describe('given something that is not plain JSON data', () => {
    it.each([
      ['undefined', { a: undefined }, '$.a: a undefined is not plain JSON data'],
      ['a function', { a: () => 1 }, '$.a: a function is not plain JSON data'],
      ['a Date', { at: new Date(0) }, '$.at: a Date is not plain JSON data'],
      ['a Map', [new Map()], '$[0]: a Map is not plain JSON data'],
      ['NaN', { n: NaN }, '$.n: NaN has no JSON representation'],
      ['Infinity', [Infinity], '$[0]: Infinity has no JSON representation'],
      ['a bigint', { n: 1n }, '$.n: a bigint is not plain JSON data'],
    ])('refuses %s instead of dropping or converting it', (_, value, message) => {
      expect(() => canonicalJson(value)).toThrow(message);
    });
  });
});

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).reverse();
    const result: Record<string, unknown> = {};
    for (const [key, item] of entries)
      Object.defineProperty(result, key, { value: reverseKeys(item), enumerable: true, writable: true, configurable: true });
    return result;
  }
  return value;
}
