/** How long `eventually` keeps trying, how often, and what it was waiting for (used in the failure message). */
export interface EventuallyOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly description?: string;
}

/** What `eventually` returns: the check's value once it is truthy. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

/**
 * Polls `check` until it returns a truthy value without throwing, and returns that value. Past the deadline
 * it throws an error naming `description` and carrying the last failure, so an eventually consistent result
 * is awaited without a fixed sleep. A falsy return value counts as "not yet".
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, description = 'condition' }: EventuallyOptions = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastFailure: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
      lastFailure = new Error(`returned ${String(value)}`);
    } catch (error) {
      lastFailure = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastFailure instanceof Error ? lastFailure.message : String(lastFailure);
      throw new Error(
        `eventually: "${description}" did not hold within ${timeoutMs} ms (${attempt} attempts); last failure: ${reason}`,
        {
          cause: lastFailure,
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}
