import { describe, expect, it } from '@jest/globals';
import { decideByType } from './decider.js';

type Command = { readonly type: 'Open'; readonly data: { readonly door: string } } | { readonly type: 'Close' };
type Event = { readonly type: 'Opened' | 'Closed'; readonly data: { readonly door: string; readonly before: string } };

const decide = decideByType<Command, Event, string>('door command', {
  Open: ({ data }, state) => [{ type: 'Opened', data: { door: data.door, before: state } }],
  Close: (_, state) => [{ type: 'Closed', data: { door: 'all', before: state } }],
});

describe('decideByType', () => {
  it.each<{ behaviour: string; command: Command; then: Event[] }>([
    {
      behaviour: 'hands a command to the function of its type, with the state',
      command: { type: 'Open', data: { door: 'front' } },
      then: [{ type: 'Opened', data: { door: 'front', before: 'shut' } }],
    },
    {
      behaviour: 'hands a command of the other type to its own function',
      command: { type: 'Close' },
      then: [{ type: 'Closed', data: { door: 'all', before: 'shut' } }],
    },
  ])('$behaviour', ({ command, then }) => {
    expect(decide(command, 'shut')).toEqual(then);
  });

  it.each(['Lock', 'toString', '__proto__'])(
    'rejects a command of type %s, which the table has not, as a switch would',
    (type) => {
      const command = { type } as unknown as Command;
      expect(() => decide(command, 'shut')).toThrow(`Unhandled door command: {"type":"${type}"}`);
    },
  );
});
