import { isIPv4, isIPv6 } from 'node:net';
import { TokenBuckets, type Verdict } from './rate-limit.js';

/**
 * The key a client address is counted under: an IPv4 address as it is (also when it arrives IPv4-mapped,
 * `::ffff:192.0.2.1`), an IPv6 address by its /64 (one subscriber's allocation: counting each of its 2^64
 * addresses apart would give an attacker as many budgets), anything else verbatim.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const bare = address.replace(/%.*$/, ''); // a zone index (fe80::1%eth0) says nothing about the client
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(bare) || !isIPv6(bare)) return bare;
  return `${ipv6Groups(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, lower-case without leading zeros (`::` expanded). */
function ipv6Groups(address: string): string[] {
  const groupsOf = (part: string): string[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [g];
          const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const [head = '', tail] = address.toLowerCase().split('::');
  const first = groupsOf(head);
  const last = tail === undefined ? [] : groupsOf(tail);
  const zeros = Array.from({ length: 8 - first.length - last.length }, () => '0');
  return [...first, ...zeros, ...last].map((g) => parseInt(g, 16).toString(16));
}

/**
 * The failed-authentication budget of each client address (FAILED_AUTH_PER_MINUTE): an address may present
 * that many refused API keys at once, refilled at that many a minute. Checked before a key is looked up, so an
 * address that used its budget is answered 429 without any database or bus work; only refusals spend it, so
 * clients with valid keys behind the same address are slowed only while someone there keeps failing. Every
 * refusal is charged, also past the budget: requests admitted together while one unit was left (a flood with
 * many requests in flight) put the address in debt, down to one budget's worth, instead of each refill letting
 * a whole flight of lookups through.
 */
export class FailedAuthLimiter {
  private readonly buckets: TokenBuckets;

  constructor(
    perMinute: number,
    private readonly options: { now?: () => number; maxEntries?: number; throttled?: () => void } = {},
  ) {
    this.buckets = new TokenBuckets({ perMinute, burst: perMinute, maxEntries: options.maxEntries }, options.now);
  }

  /** Before a key is looked up: refused (with the seconds to wait) while the address has no budget left. */
  admit(address: string | undefined): Verdict {
    const verdict = this.buckets.peek(addressKey(address));
    if (!verdict.allowed) this.options.throttled?.();
    return verdict;
  }

  /** A key the address presented was refused: spends one of its budget, or adds to its debt. */
  refused(address: string | undefined): void {
    this.buckets.charge(addressKey(address));
  }
}
