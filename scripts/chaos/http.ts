/**
 * The harness's HTTP client: every request carries the operator key and a deadline, and every answer is
 * classified the way the chaos report counts it.
 */

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
  const startedAt = Date.now();
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${options.apiKey}`,
        'x-correlation-id': `chaos-${startedAt}-${Math.random().toString(36).slice(2, 8)}`,
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
    };
  }
}
