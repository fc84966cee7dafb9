import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { NextFunction, Request, Response } from 'express';
import {
  UNMATCHED_ROUTE,
  accessLine,
  accessLog,
  expressRoutes,
  matchRoute,
  methodLabel,
  routeLabel,
  statusClass,
  type AccessLogger,
  type MappedRoute,
} from './access-log.js';
import { ServiceMetrics } from '../observability/metrics.js';

const ROUTES: MappedRoute[] = [
  { method: 'GET', path: '/products/:serial' },
  { method: 'PATCH', path: '/products/:serial' },
  { method: 'POST', path: '/products' },
  { method: 'GET', path: '/products/:serial/effective-licenses/history' },
  { method: 'GET', path: '/.well-known/license-signing-keys' },
];

describe('route labels', () => {
  it.each([
    ['GET', '/products/0F1873F7B5B8', '/products/:serial'],
    ['PATCH', '/products/0F1873F7B5B8', '/products/:serial'],
    ['POST', '/products', '/products'],
    ['POST', '/products/', '/products'],
    ['post', '/Products', '/products'],
    ['HEAD', '/products/X', '/products/:serial'],
    ['GET', '/products/X/effective-licenses/history', '/products/:serial/effective-licenses/history'],
    ['GET', '/.well-known/license-signing-keys', '/.well-known/license-signing-keys'],
  ])('%s %s is %s', (method, path, pattern) => {
    expect(matchRoute(method, path, ROUTES)).toBe(pattern);
  });

  it.each([
    ['DELETE', '/products/X'],
    ['GET', '/products//effective-licenses/history'],
    ['GET', '/products/X/Y'],
    ['GET', '/nope'],
    ['GET', '/'],
  ])('%s %s matches no route', (method, path) => {
    expect(matchRoute(method, path, ROUTES)).toBeUndefined();
  });

  it('prefers the pattern Express matched, then the one the path fits, and never the path itself', () => {
    expect(routeLabel({ method: 'GET', path: '/products/A', route: { path: '/products/:serial' } }, [])).toBe(
      '/products/:serial',
    );
    expect(routeLabel({ method: 'GET', path: '/products/A' }, ROUTES)).toBe('/products/:serial');
    expect(routeLabel({ method: 'GET', path: '/wp-admin/login.php?x=1' }, ROUTES)).toBe(UNMATCHED_ROUTE);
  });

  it('reads the mapped routes from an Express router, one per method', () => {
    const app = {
      router: {
        stack: [
          { name: 'query' },
          { route: { path: '/products/:serial', methods: { get: true, patch: true } } },
          { route: { path: '/pairs', methods: { _all: true, post: true } } },
        ],
      },
    };
    expect(expressRoutes(app)).toEqual([
      { method: 'GET', path: '/products/:serial' },
      { method: 'PATCH', path: '/products/:serial' },
      { method: 'POST', path: '/pairs' },
    ]);
  });
});

describe('labels and the line', () => {
  it.each([
    [200, '2xx'],
    [201, '2xx'],
    [304, '3xx'],
    [404, '4xx'],
    [429, '4xx'],
    [503, '5xx'],
    [42, 'other'],
  ])('status %i is in class %s', (status, label) => {
    expect(statusClass(status)).toBe(label);
  });

  it('keeps the usual methods and folds any other into OTHER', () => {
    expect(['get', 'POST', 'Patch', 'PROPFIND', 'BREW'].map(methodLabel)).toEqual(['GET', 'POST', 'PATCH', 'OTHER', 'OTHER']);
  });

  it('says method, route, status and duration', () => {
    expect(
      accessLine({
        method: 'GET',
        route: '/products/:serial',
        status: 200,
        durationMs: 3.1,
        correlationId: null,
        apiKeyId: null,
      }),
    ).toBe('GET /products/:serial 200 3.1 ms');
  });
});

/** A request and response pair the middleware can handle, without a server. */
function exchange(request: Partial<Request> & { headers: Request['headers'] }) {
  const response = Object.assign(new EventEmitter(), { statusCode: 200, writableFinished: false });
  return { request: { method: 'GET', path: '/', ...request } as Request, response };
}

function recordingLogger(json: boolean) {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const logger: AccessLogger = {
    json,
    log: (message, fields) => lines.push({ level: 'log', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    debug: (message, fields) => lines.push({ level: 'debug', message, fields }),
  };
  return { logger, lines };
}

describe('the access log middleware', () => {
  it('logs one line per request with its pattern, status, correlation id and key id, and times it', async () => {
    const metrics = new ServiceMetrics('pairing');
    const { logger, lines } = recordingLogger(true);
    const middleware = accessLog({ logger, duration: metrics.httpRequestDuration, routes: () => ROUTES });
    const secret = 'hlsk_the-secret-key';
    const { request, response } = exchange({
      method: 'GET',
      path: '/products/0F1873F7B5B8',
      headers: { authorization: `Bearer ${secret}`, 'x-correlation-id': 'order-42' },
    });
    let nextCalled = false;
    middleware(request, response as unknown as Response, (() => (nextCalled = true)) as NextFunction);
    Object.assign(request, { principal: { keyId: 'k-123', role: 'operator' } });
    response.statusCode = 404;
    response.writableFinished = true;
    response.emit('finish');
    response.emit('close');

    expect(nextCalled).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toEqual({
      level: 'log',
      message: expect.stringMatching(/^GET \/products\/:serial 404 \d+(\.\d)? ms$/),
      fields: {
        method: 'GET',
        route: '/products/:serial',
        status: 404,
        durationMs: expect.any(Number),
        correlationId: 'order-42',
        apiKeyId: 'k-123',
      },
    });
    expect(JSON.stringify(lines)).not.toContain(secret);
    const count = (await metrics.httpRequestDuration.get()).values.find((v) => v.metricName?.endsWith('_count'));
    expect(count).toEqual(
      expect.objectContaining({ value: 1, labels: { method: 'GET', route: '/products/:serial', status_class: '4xx' } }),
    );
  });

  it('logs probes and scrapes at debug, 5xx at warn, and an answer cut off by the client as aborted', () => {
    const metrics = new ServiceMetrics('licensing');
    const { logger, lines } = recordingLogger(false);
    const middleware = accessLog({ logger, duration: metrics.httpRequestDuration, routes: () => ROUTES });
    const run = (path: string, status: number, event: 'finish' | 'close', headers: Request['headers'] = {}) => {
      const { request, response } = exchange({ path, headers, route: { path } });
      middleware(request, response as unknown as Response, (() => undefined) as NextFunction);
      response.statusCode = status;
      response.writableFinished = event === 'finish';
      response.emit(event);
    };
    run('/readyz', 503, 'finish');
    run('/products', 503, 'finish');
    run('/products', 200, 'close', { 'x-correlation-id': 'has spaces and\ttabs' });

    expect(lines.map((l) => l.level)).toEqual(['debug', 'warn', 'log']);
    // A text line shows the fields its message does not.
    expect(lines[2]!.fields).toEqual({ correlationId: '(invalid)', apiKeyId: null, aborted: true });
  });
});
