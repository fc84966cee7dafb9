import { describe, expect, it } from '@jest/globals';
import { BoundedMap } from './bounded-map.js';

describe('BoundedMap', () => {
  const cases: { name: string; given: readonly string[]; then: readonly string[] }[] = [
    { name: 'keeps every key up to its capacity', given: ['a', 'b', 'c'], then: ['a', 'b', 'c'] },
    { name: 'drops the key set longest ago past its capacity', given: ['a', 'b', 'c', 'd'], then: ['b', 'c', 'd'] },
    { name: 'counts a key set again as the newest', given: ['a', 'b', 'c', 'a', 'd'], then: ['c', 'a', 'd'] },
  ];

  it.each(cases)('$name', ({ given, then }) => {
    const map = new BoundedMap<string, number>(3);
    for (const [i, key] of given.entries()) map.set(key, i);
    expect([...map.keys()]).toEqual(then);
    expect(map.get(given.at(-1)!)).toBe(given.length - 1);
  });
});
