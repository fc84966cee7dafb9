import { describe, expect, it } from '@jest/globals';
import { doublingDelay, growingDelay, retry, worthReporting } from './retry.js';

const noPause = () => Promise.resolve();

describe('retry', () => {
  it('returns what the work returns once it succeeds, after reporting each failure with its attempt', async () => {
    const reported: [string, number][] = [];
    const result = await retry(
      (attempt) => (attempt < 3 ? Promise.reject(new Error(`down ${attempt}`)) : Promise.resolve(attempt)),
      {
        delayMs: () => 0,
        sleep: noPause,
        onFailure: (error, attempt) => void reported.push([(error as Error).message, attempt]),
      },
    );
    expect(result).toBe(3);
    expect(reported).toEqual([
      ['down 1', 1],
      ['down 2', 2],
    ]);
  });

  it('pauses as the policy says between attempts', async () => {
    const pauses: number[] = [];
    await retry((attempt) => (attempt < 4 ? Promise.reject(new Error('down')) : Promise.resolve()), {
      delayMs: doublingDelay(100, 300),
      sleep: (ms) => (pauses.push(ms), Promise.resolve()),
    });
    expect(pauses).toEqual([100, 200, 300]);
  });

  it('throws the failure it gives up on, without reporting or pausing', async () => {
    let reported = 0;
    const work = () => Promise.reject(new Error('not an outage'));
    await expect(retry(work, { delayMs: () => 1_000_000, giveUp: () => true, onFailure: () => void reported++ })).rejects.toThrow(
      'not an outage',
    );
    expect(reported).toBe(0);
  });

  it('stops after the pause in which the caller stopped, with the last failure', async () => {
    let stopped = false;
    let attempts = 0;
    const work = () => (attempts++, Promise.reject(new Error('still down')));
    const sleep = () => ((stopped = true), Promise.resolve());
    await expect(retry(work, { delayMs: () => 10, sleep, stopped: () => stopped })).rejects.toThrow('still down');
    expect(attempts).toBe(1);
  });
});

describe('the pauses', () => {
  it('grow by a step up to the cap', () => {
    expect([1, 2, 3, 8, 9].map(growingDelay(250, 2000))).toEqual([250, 500, 750, 2000, 2000]);
  });

  it('double up to the cap', () => {
    expect([1, 2, 3, 6, 7].map(doublingDelay(200, 5000))).toEqual([200, 400, 800, 5000, 5000]);
  });

  it('are reported on the first failure and every tenth', () => {
    expect([1, 2, 9, 10, 11, 20].map(worthReporting)).toEqual([true, false, false, true, false, true]);
  });
});
