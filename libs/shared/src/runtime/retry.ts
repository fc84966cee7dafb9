/**
 * The one way the services wait out an outage (PostgreSQL or NATS away, a dead-letter stream not there yet): run
 * the work again after a pause that grows to a cap, until it succeeds or the caller gives up. Every loop that
 * retries for as long as it takes uses this, so each chooses only its pauses, what it says and when it stops.
 */
export interface RetryPolicy {
  /** The pause after the `attempt`-th failure, in ms (see `growingDelay`, `doublingDelay`). */
  readonly delayMs: (attempt: number) => number;
  /** Checked after each failure and after each pause: true throws the last failure instead of retrying. */
  readonly stopped?: () => boolean;
  /** Checked after each failure: true throws that error instead of retrying (it is not an outage). */
  readonly giveUp?: (error: unknown) => boolean;
  /** Told of each failure that is retried, before the pause (say so on the first and every tenth: `worthReporting`). */
  readonly onFailure?: (error: unknown, attempt: number) => void | Promise<void>;
  /** How to pause (default a timer): a loop that can be woken early, such as the relay's, passes its own. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Runs `work` until it resolves, retrying every failure the policy does not give up on. */
export async function retry<T>(work: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const sleep = policy.sleep ?? pause;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (policy.stopped?.() || policy.giveUp?.(error)) throw error;
      await policy.onFailure?.(error, attempt);
      await sleep(policy.delayMs(attempt));
      if (policy.stopped?.()) throw error;
    }
  }
}

/** Pauses of `stepMs`, twice that, three times … up to `maxMs` (waiting for a server to start). */
export function growingDelay(stepMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(stepMs * attempt, maxMs);
}

/** Pauses of `firstMs`, doubling up to `maxMs` (a dependency that went away while in use). */
export function doublingDelay(firstMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(firstMs * 2 ** Math.max(0, attempt - 1), maxMs);
}

/** The failures worth a log line: the first, then every tenth (an outage of minutes prints a few lines, not hundreds). */
export function worthReporting(attempt: number): boolean {
  return attempt === 1 || attempt % 10 === 0;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
