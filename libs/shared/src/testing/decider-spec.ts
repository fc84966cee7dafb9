import { expect } from '@jest/globals';
import { RuleViolation, fold, type Decider } from '../contracts/index.js';

/**
 * Given/when/then for deciders: `given` past events, `when` a command, `then` the expected new events or
 * `thenThrows` the code of the rule the command breaks.
 *
 *   specFor(productDecider).given([registered]).when(changeFirmware).then([firmwareChanged]);
 */
export function specFor<Command, Event, State>(decider: Decider<Command, Event, State>) {
  return {
    given(events: readonly Event[]) {
      const state = fold(decider, events);
      return {
        when(command: Command) {
          const run = () => decider.decide(command, state);
          return {
            then(expected: readonly Event[]) {
              expect(run()).toEqual(expected);
            },
            thenThrows(code: string) {
              let thrown: unknown;
              try {
                run();
              } catch (error) {
                thrown = error;
              }
              expect(thrown).toBeInstanceOf(RuleViolation);
              expect((thrown as RuleViolation).code).toBe(code);
            },
          };
        },
      };
    },
  };
}
