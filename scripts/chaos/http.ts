/**
 * The harness's HTTP client: every request carries the operator key, a deadline and a correlation id of its own
 * (the services copy it into the events a write appends), and every answer is classified the way the chaos report
 * counts it and stamped with the order in which the harness sent the request and saw the answer.
 */
import { randomUUID } from 'node:crypto';

let ticks = 0;
/**
 * The harness's own order of events: a request is stamped when it is sent, an answer when it is seen. Node runs
 * the harness on one thread, so `a.endedTick < b.sentTick` means the harness had `a`'s answer before it sent `b`,
 * even within one millisecond.
 */
export function nextTick(): number {
  return ++ticks;
}

/**
 * ok: 2xx. failed: a definite error status. indeterminate: no answer (timeout, reset, connection closed), so the
 * write may or may not have happened. refused: the connection was refused, so nothing was sent.
 */
export type Outcome = 'ok' | 'failed' | 'indeterminate' | 'refused';

export interface Reply {
  readonly outcome: Outcome;
  readonly status: number;
  readonly body: unknown;
  /** The error answer was application/problem+json with a code. */
  readonly problem: boolean;
  readonly code: string | null;
  /** The request hit the harness's deadline with no answer. */
  readonly timedOut: boolean;
  readonly error: string | null;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly sentTick: number;
  readonly endedTick: number;
  /** The x-correlation-id the request carried. */
  readonly correlationId: string;
}

export interface HttpOptions {
  readonly apiKey: string;
  readonly timeoutMs: number;
}

function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string; cause?: { code?: string } } }).cause;
  return cause?.code ?? cause?.cause?.code;
}

export async function request(
  options: HttpOptions,
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply> {
  const correlationId = `chaos-${randomUUID()}`;
  const startedAt = Date.now();
  const sentTick = nextTick();
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${options.apiKey}`,
        'x-correlation-id': correlationId,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    let parsed: unknown = text;
    if (/json/i.test(type) && text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const code = typeof parsed === 'object' && parsed !== null ? (parsed as { code?: unknown }).code : undefined;
    const problem = /application\/problem\+json/i.test(type) && typeof code === 'string';
    return {
      outcome: response.status >= 200 && response.status < 300 ? 'ok' : 'failed',
      status: response.status,
      body: parsed,
      problem,
      code: typeof code === 'string' ? code : null,
      timedOut: false,
      error: null,
      startedAt,
      endedAt: Date.now(),
      sentTick,
      endedTick: nextTick(),
      correlationId,
    };
  } catch (error) {
    const name = (error as Error).name;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    const code = causeCode(error);
    return {
      outcome: code === 'ECONNREFUSED' ? 'refused' : 'indeterminate',
      status: 0,
      body: null,
      problem: false,
      code: null,
      timedOut,
      error: timedOut ? `no answer within ${options.timeoutMs} ms` : `${(error as Error).message}${code ? ` (${code})` : ''}`,
      startedAt,
      endedAt: Date.now(),
      sentTick,
      endedTick: nextTick(),
      correlationId,
    };
  }
}
