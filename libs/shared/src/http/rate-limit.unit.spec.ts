import { describe, expect, it } from '@jest/globals';
import { TokenBuckets, type BucketSettings, type Verdict } from './rate-limit.js';
import { FailedAuthLimiter, addressKey } from './failed-auth-limit.js';

/** A clock the test moves. */
function clock() {
  let now = 0;
  return { now: () => now, at: (ms: number) => void (now = ms) };
}

/** Sends one request every `everyMs` for `seconds` to one key's bucket; answers how many were allowed. */
function flood(settings: BucketSettings, seconds: number, everyMs: number): number {
  const time = clock();
  const buckets = new TokenBuckets(settings, time.now);
  let allowed = 0;
  for (let t = 0; t < seconds * 1000; t += everyMs) {
    time.at(t);
    if (buckets.take('key').allowed) allowed++;
  }
  return allowed;
}

const refused = (retryAfterSeconds: number): Verdict => ({ allowed: false, retryAfterSeconds });
const ALLOWED: Verdict = { allowed: true };

describe('TokenBuckets', () => {
  describe('under a flood far above the rate', () => {
    it.each([
      // perMinute, burst, seconds, one request every ms → allowed: burst + perMinute × seconds / 60
      ['a minute of burst (the old setting: 75,000 in 15 s at 60,000/min)', 60_000, 60_000, 15, 0.2, 75_000],
      ["one second's share of burst: 16,000 in 15 s at 60,000/min", 60_000, 1_000, 15, 0.2, 16_000],
      ["one second's share over a minute: within 2 % of the rate", 60_000, 1_000, 60, 0.2, 61_000],
      ['a small limit: 600/min, burst 10, for 30 s', 600, 10, 30, 1, 310],
      ['a burst of one: 60/min for 10 s', 60, 1, 10, 1, 11],
    ])('%s', (_, perMinute, burst, seconds, everyMs, expected) => {
      const allowed = flood({ perMinute, burst }, seconds, everyMs);
      // A token may be counted or not at the window's last instant.
      expect(Math.abs(allowed - expected)).toBeLessThanOrEqual(1);
    });
  });

  describe('step by step', () => {
    it.each<[string, BucketSettings, [atMs: number, key: string, expected: Verdict][]]>([
      [
        'allows a burst, then refuses with the seconds until a token is back, per key',
        { perMinute: 60, burst: 3 },
        [
          [0, 'a', ALLOWED],
          [0, 'a', ALLOWED],
          [0, 'a', ALLOWED],
          [0, 'a', refused(1)],
          [0, 'b', ALLOWED],
          [1_000, 'a', ALLOWED],
          [1_000, 'a', refused(1)],
        ],
      ],
      [
        'refills no further than the burst, however long idle',
        { perMinute: 2, burst: 2 },
        [
          [3_600_000, 'a', ALLOWED],
          [3_600_000, 'a', ALLOWED],
          [3_600_000, 'a', refused(30)],
        ],
      ],
      [
        'says how long until the next whole token',
        { perMinute: 6, burst: 1 },
        [
          [0, 'a', ALLOWED],
          [0, 'a', refused(10)],
          [4_000, 'a', refused(6)],
          [10_000, 'a', ALLOWED],
        ],
      ],
    ])('%s', (_, settings, steps) => {
      const time = clock();
      const buckets = new TokenBuckets(settings, time.now);
      const verdicts = steps.map(([atMs, key]) => (time.at(atMs), buckets.take(key)));
      expect(verdicts).toEqual(steps.map(([, , expected]) => expected));
    });
  });

  it('charges a cost already paid even without a token, down to minus the burst', () => {
    const time = clock();
    const buckets = new TokenBuckets({ perMinute: 60, burst: 2 }, time.now);
    for (let i = 0; i < 10; i++) buckets.charge('a');
    // Two tokens, then a debt of two: three seconds until one is back, not one.
    expect(buckets.peek('a')).toEqual(refused(3));
    time.at(2_000);
    expect(buckets.peek('a')).toEqual(refused(1));
    time.at(3_000);
    expect(buckets.peek('a')).toEqual(ALLOWED);
  });

  it('peeks without taking a token and without making a bucket', () => {
    const buckets = new TokenBuckets({ perMinute: 60, burst: 1 }, () => 0);
    expect([buckets.peek('a'), buckets.peek('a'), buckets.size]).toEqual([ALLOWED, ALLOWED, 0]);
    buckets.take('a');
    expect(buckets.peek('a')).toEqual(refused(1));
  });

  it('keeps at most maxEntries buckets: full ones go first, then the longest untouched', () => {
    const time = clock();
    const buckets = new TokenBuckets({ perMinute: 60, burst: 2, maxEntries: 3 }, time.now);
    for (const key of ['a', 'b', 'c']) buckets.take(key);
    time.at(2_000); // a, b and c are full again
    buckets.take('d');
    buckets.take('d');
    expect(buckets.size).toBe(1);
    for (const key of ['e', 'f', 'g', 'h']) {
      buckets.take(key);
      buckets.take(key);
    }
    expect(buckets.size).toBe(3);
    // d was the longest untouched and went; h, the latest, still has no token left.
    expect(buckets.peek('h')).toEqual(refused(1));
    expect(buckets.peek('d')).toEqual(ALLOWED);
  });
});

describe('FailedAuthLimiter', () => {
  it('admits an address until it has presented its budget of refused keys, then says when to retry', () => {
    const time = clock();
    let throttled = 0;
    const limiter = new FailedAuthLimiter(3, { now: time.now, throttled: () => throttled++ });
    for (let i = 0; i < 3; i++) {
      expect(limiter.admit('192.0.2.1')).toEqual(ALLOWED);
      limiter.refused('192.0.2.1');
    }
    expect(limiter.admit('192.0.2.1')).toEqual(refused(20));
    expect(limiter.admit('::ffff:192.0.2.1')).toEqual(refused(20));
    expect(limiter.admit('192.0.2.2')).toEqual(ALLOWED);
    expect(throttled).toBe(2);
    time.at(20_000);
    expect(limiter.admit('192.0.2.1')).toEqual(ALLOWED);
  });

  it('charges every refusal of requests admitted together, so a flood in flight gains nothing per refill', () => {
    const time = clock();
    const limiter = new FailedAuthLimiter(60, { now: time.now });
    for (let i = 0; i < 60; i++) limiter.refused('192.0.2.1');
    time.at(1_000); // one token back
    const inFlight = Array.from({ length: 32 }, () => limiter.admit('192.0.2.1'));
    expect(inFlight.every((v) => v.allowed)).toBe(true);
    for (let i = 0; i < 32; i++) limiter.refused('192.0.2.1');
    // 31 in debt: the next lookup in 32 s, not in 1 s.
    expect(limiter.admit('192.0.2.1')).toEqual(refused(32));
  });

  it('is not spent by admitted requests (a valid key behind the address costs nothing)', () => {
    const limiter = new FailedAuthLimiter(1, { now: () => 0 });
    for (let i = 0; i < 100; i++) expect(limiter.admit('192.0.2.1')).toEqual(ALLOWED);
  });

  it('counts the addresses of one IPv6 /64 as one', () => {
    const limiter = new FailedAuthLimiter(2, { now: () => 0 });
    limiter.refused('2001:db8:1:2::1');
    limiter.refused('2001:db8:1:2:ffff::9');
    expect(limiter.admit('2001:db8:1:2:aaaa:bbbb:cccc:dddd').allowed).toBe(false);
    expect(limiter.admit('2001:db8:1:3::1').allowed).toBe(true);
  });
});

describe('addressKey', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::', '2001:db8:1:2::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['::192.0.2.1', '0:0:0:0::/64'],
    [undefined, 'unknown'],
    ['', 'unknown'],
  ])('counts %j as %j', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
