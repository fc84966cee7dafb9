/**
 * One access log line and one duration observation per HTTP request, from a single Express middleware that runs
 * before everything else, so that requests refused by the hardening middleware (415, 400), the guards (401, 403,
 * 429, 503) and the router (404) are counted like the others. It records the route PATTERN (never the path with
 * its ids, never the query, so labels stay few), the status, the time to the last byte, the correlation id and
 * the id of the API key that was accepted; never the key, the Authorization header or a body.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Histogram } from 'prom-client';

/** The route label of a request no route matches (an unknown path or method). */
export const UNMATCHED_ROUTE = '(unmatched)';

/** Health probes and scrapes: every few seconds per client, so logged at `debug` to keep the log readable. */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/livez', '/readyz', '/health', '/metrics']);

/** What the correlation id may be (as requestHardening enforces); anything else is logged as `(invalid)`. */
const CORRELATION_ID = /^[\x21-\x7e]{1,128}$/;

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A route a service maps: its method (upper case) and Express path pattern (`/products/:serial`). */
export interface MappedRoute {
  readonly method: string;
  readonly path: string;
}

/** The fields of one access log line. */
export interface AccessRecord {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
  readonly correlationId: string | null;
  readonly apiKeyId: string | null;
}

/** `2xx`, `4xx`, `5xx` …: the status label, so a dashboard sums classes without a series per status. */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

/** The method as a label: the usual ones as they are, anything else `OTHER`. */
export function methodLabel(method: string): string {
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : 'OTHER';
}

/**
 * The pattern of the mapped route that `method` and `path` (no query) match, or undefined: `:name` matches one
 * non-empty segment, everything else literally but for case and a trailing slash, as Express matches by default.
 * Used for requests answered before the router (415, 400).
 */
export function matchRoute(method: string, path: string, routes: readonly MappedRoute[]): string | undefined {
  const segments = (path.length > 1 ? path.replace(/\/$/, '') : path).toLowerCase().split('/');
  const wanted = method.toUpperCase() === 'HEAD' ? ['HEAD', 'GET'] : [method.toUpperCase()];
  const found = routes.find((route) => {
    if (!wanted.includes(route.method)) return false;
    const pattern = route.path.split('/');
    return (
      pattern.length === segments.length &&
      pattern.every((part, i) => (part.startsWith(':') ? segments[i]!.length > 0 : part.toLowerCase() === segments[i]))
    );
  });
  return found?.path;
}

/** The route label: the pattern Express matched, else the one the path fits, else UNMATCHED_ROUTE. */
export function routeLabel(
  request: Pick<Request, 'method' | 'path'> & { route?: { path?: unknown } },
  routes: readonly MappedRoute[],
): string {
  const matched = request.route?.path;
  if (typeof matched === 'string') return matched;
  return matchRoute(request.method, request.path, routes) ?? UNMATCHED_ROUTE;
}

/** The message of an access log line: `GET /products/:serial 200 3.1 ms`. */
export function accessLine(record: AccessRecord): string {
  return `${record.method} ${record.route} ${record.status} ${record.durationMs} ms`;
}

/**
 * Where the middleware writes: the service's logger (structured fields after the message). A JSON line carries
 * every field; a text line carries the message and the fields it does not already show.
 */
export interface AccessLogger {
  readonly json: boolean;
  log(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  debug(message: string, fields: Record<string, unknown>): void;
}

export interface AccessLogOptions {
  readonly logger: AccessLogger;
  readonly duration: Histogram<'method' | 'route' | 'status_class'>;
  /** The routes the service maps (read once they are, after the application started). */
  readonly routes: () => readonly MappedRoute[];
}

/**
 * The middleware: times the request from its arrival to the last byte of the answer (or the connection's end),
 * then logs the line (`debug` for probes and scrapes, `warn` for 5xx, `log` otherwise) and observes the histogram.
 */
export function accessLog(options: AccessLogOptions) {
  return (request: Request, response: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const header = request.headers['x-correlation-id'];
      const record: AccessRecord = {
        method: methodLabel(request.method),
        route: routeLabel(request, options.routes()),
        status: response.statusCode,
        durationMs: Math.round(seconds * 10_000) / 10,
        correlationId:
          header === undefined ? null : typeof header === 'string' && CORRELATION_ID.test(header) ? header : '(invalid)',
        apiKeyId: (request as Request & { principal?: { keyId?: string } }).principal?.keyId ?? null,
      };
      options.duration.observe({ method: record.method, route: record.route, status_class: statusClass(record.status) }, seconds);
      const aborted = response.writableFinished ? {} : { aborted: true };
      const fields = options.logger.json
        ? { ...record, ...aborted }
        : { correlationId: record.correlationId, apiKeyId: record.apiKeyId, ...aborted };
      const line = accessLine(record);
      if (PROBE_ROUTES.has(record.route)) options.logger.debug(line, fields);
      else if (record.status >= 500) options.logger.warn(line, fields);
      else options.logger.log(line, fields);
    };
    response.once('finish', finish);
    response.once('close', finish);
    next();
  };
}

/** The routes an Express application maps (method and pattern), read from its router. */
export function expressRoutes(app: { router?: { stack?: unknown[] } }): MappedRoute[] {
  const stack = (app.router?.stack ?? []) as { route?: { path?: unknown; methods?: Record<string, boolean> } }[];
  return stack.flatMap(({ route }) =>
    route && typeof route.path === 'string'
      ? Object.keys(route.methods ?? {})
          .filter((m) => m !== '_all')
          .map((m) => ({ method: m.toUpperCase(), path: route.path as string }))
      : [],
  );
}
