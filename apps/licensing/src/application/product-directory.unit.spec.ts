import { describe, expect, it } from '@jest/globals';
import { rememberingFound } from './product-directory.js';

/** A lookup that answers from `known` and counts how often it was asked. */
function countingLookup(known: Map<string, string>) {
  const asked: string[] = [];
  const lookup = (key: string) => {
    asked.push(key);
    return Promise.resolve(known.get(key) ?? null);
  };
  return { asked, lookup };
}

describe('rememberingFound', () => {
  it('asks once for a key that was found, and answers it from memory after', async () => {
    const { asked, lookup } = countingLookup(new Map([['A', 'product A']]));
    const remembered = rememberingFound(lookup, 10);
    expect(await remembered('A')).toBe('product A');
    expect(await remembered('A')).toBe('product A');
    expect(asked).toEqual(['A']);
  });

  it('asks again every time for a key that was not found, so a product registered meanwhile is seen at once', async () => {
    const known = new Map<string, string>();
    const { asked, lookup } = countingLookup(known);
    const remembered = rememberingFound(lookup, 10);
    expect(await remembered('B')).toBeNull();
    known.set('B', 'product B');
    expect(await remembered('B')).toBe('product B');
    expect(await remembered('B')).toBe('product B');
    expect(asked).toEqual(['B', 'B']);
  });

  it('keeps at most `max` keys, starting afresh when full', async () => {
    const { asked, lookup } = countingLookup(new Map(['A', 'B', 'C'].map((k) => [k, k])));
    const remembered = rememberingFound(lookup, 2);
    for (const key of ['A', 'B', 'C', 'C', 'A']) await remembered(key);
    expect(asked).toEqual(['A', 'B', 'C', 'A']);
  });

  it('remembers nothing when the lookup fails, and lets the failure reach the caller', async () => {
    let fail = true;
    const remembered = rememberingFound(
      (key) => (fail ? Promise.reject(new Error('pairing is away')) : Promise.resolve(key)),
      10,
    );
    await expect(remembered('A')).rejects.toThrow('pairing is away');
    fail = false;
    expect(await remembered('A')).toBe('A');
  });
});
