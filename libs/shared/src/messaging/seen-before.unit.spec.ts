import { describe, expect, it } from '@jest/globals';
import { repeatKind, replayDetail } from './seen-before.js';

const at = (stream: string, seq: number) => ({ stream, seq });

describe('an event a consumer has already handled, arriving again', () => {
  it.each([
    ['from the position it was handled from', at('PAIRING', 7), at('PAIRING', 7), 'redelivery'],
    ['from a later sequence of the same stream', at('PAIRING', 7), at('PAIRING', 9), 'replay'],
    ['from the same sequence of another stream', at('PAIRING', 7), at('LICENSING', 7), 'replay'],
    ['without a position (from a dead letter)', at('PAIRING', 7), undefined, 'replay'],
    ['after it was handled without a position', null, at('PAIRING', 7), 'replay'],
  ] as const)('%s is a %s', (_case, handledFrom, arrivedFrom, kind) => {
    expect(repeatKind(handledFrom, arrivedFrom)).toBe(kind);
  });

  it('says in the replay detail where it was first handled from, when that is known', () => {
    const event = { type: 'ProductsAssociated', eventId: 'e-1' };
    expect(replayDetail(event, at('PAIRING', 7))).toBe('ProductsAssociated e-1 was already applied from PAIRING sequence 7');
    expect(replayDetail(event, null)).toBe('ProductsAssociated e-1 was already applied');
  });
});
