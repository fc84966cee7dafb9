/**
 * The console's way to pairing and licensing: `/console/api/pairing/<path>` and `/console/api/licensing/<path>` on the
 * sync agent are forwarded to that service with the caller's `Authorization` header, so the browser talks to one
 * origin (no CORS, one port to publish). The service behind it authenticates the key, applies its role and account
 * scope and rate-limits it, exactly as for a direct call. The proxy only checks first that the key is one at all, as
 * the sync agent's own guard does (with its failed-authentication budget per client address): every proxied request
 * reaches the service from the sync agent's address, so refused keys forwarded there would spend one budget shared by
 * every console user. It forwards only what the console needs: reads (GET) and a dead letter's replay, never a body.
 */
import type { NextFunction, Request, Response } from 'express';
import { bearerToken, type ApiKeyVerifier, type FailedAuthLimiter } from '#shared';
import { problemOf } from './console-problem.js';
import type { ConsoleUpstreams } from './console-config.js';

/** The path prefix under which the proxy answers. */
export const CONSOLE_API_PREFIX = '/console/api';

/** What may be forwarded: any read, and a dead letter's replay. */
function allowed(method: string, path: string): boolean {
  if (method === 'GET') return true;
  return method === 'POST' && /^\/dead-letters\/\d{1,15}\/replay$/.test(path);
}

/** A path and query as a client may send them: starting with one `/`, no dot segments, only URL characters. */
const SAFE_TARGET = /^\/(?!\/)[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*$/;

/** Whether a path has a `.` or `..` segment, written plainly or percent-encoded (fetch would resolve either). */
function hasDotSegment(path: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return true;
  }
  return /(^|\/)\.\.?(\/|$)/.test(decoded);
}

/** Whether the request carries a key the sync agent knows; answers 401, 429 or 503 (as its guard would) when not. */
async function authenticated(auth: ProxyAuthentication, request: Request, response: Response): Promise<boolean> {
  const token = bearerToken(request.headers.authorization);
  if (token === null) {
    problemOf(response, 401, 'UNAUTHENTICATED', 'Send a valid API key as "Authorization: Bearer <api key>".');
    return false;
  }
  const admitted = auth.failures.admit(request.ip);
  if (!admitted.allowed) {
    response.setHeader('Retry-After', String(admitted.retryAfterSeconds));
    problemOf(
      response,
      429,
      'RATE_LIMITED',
      `Too many refused API keys from this address; retry after ${admitted.retryAfterSeconds} s.`,
    );
    return false;
  }
  let principal;
  try {
    principal = await auth.verifier.verify(token);
  } catch {
    problemOf(response, 503, 'SERVICE_UNAVAILABLE', 'The API key cannot be checked now; retry shortly.');
    return false;
  }
  if (principal === null) {
    auth.failures.refused(request.ip);
    problemOf(response, 401, 'UNAUTHENTICATED', 'Send a valid API key as "Authorization: Bearer <api key>".');
    return false;
  }
  return true;
}

/** Request headers passed on, and response headers passed back. */
const FORWARDED_REQUEST_HEADERS = ['authorization', 'accept', 'x-correlation-id'] as const;
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'retry-after', 'cache-control'] as const;

/** How long the proxy waits for the service. */
const UPSTREAM_TIMEOUT_MS = 15_000;

/** What the proxy checks a key with: the sync agent's own verifier and failed-authentication budget. */
export interface ProxyAuthentication {
  readonly verifier: Pick<ApiKeyVerifier, 'verify'>;
  readonly failures: Pick<FailedAuthLimiter, 'admit' | 'refused'>;
}

export function consoleProxy(upstreams: ConsoleUpstreams, auth: ProxyAuthentication) {
  return async (request: Request, response: Response, next: NextFunction): Promise<void> => {
    const match = /^\/(pairing|licensing)(\/.*)$/.exec(request.url);
    if (!match) return next();
    const service = match[1] as keyof ConsoleUpstreams;
    const target = match[2]!;
    const path = target.split('?')[0]!;
    if (!SAFE_TARGET.test(target) || hasDotSegment(path))
      return problemOf(response, 400, 'VALIDATION_FAILED', 'The path is not one the console proxy forwards.');
    if (!allowed(request.method, path))
      return problemOf(response, 405, 'METHOD_NOT_ALLOWED', 'The console proxy forwards reads and dead-letter replays only.');
    if (!(await authenticated(auth, request, response))) return;
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    let upstream: globalThis.Response;
    try {
      upstream = await fetch(`${upstreams[service]}${target}`, {
        method: request.method,
        headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
      });
    } catch {
      return problemOf(response, 503, 'DEPENDENCY_UNAVAILABLE', `The ${service} service did not answer the console's request.`);
    }
    response.status(upstream.status);
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = upstream.headers.get(name);
      if (value !== null) response.setHeader(name, value);
    }
    response.send(Buffer.from(await upstream.arrayBuffer()));
  };
}
