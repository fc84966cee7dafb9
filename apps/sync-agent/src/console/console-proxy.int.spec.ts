/** The console's proxy against a stand-in service on loopback, and its configuration. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { ConfigurationError, FailedAuthLimiter, type Principal } from '#shared';
import { consoleUpstreams } from './console-config.js';
import { consoleProxy, type ProxyAuthentication } from './console-proxy.js';

const KNOWN = 'hlsk_known';
/** The sync agent's checks, with one known key and a budget of two refused keys per address. */
function authentication(): ProxyAuthentication {
  const reader: Principal = { keyId: 'k', role: 'reader', accountId: 'acme' };
  return {
    verifier: { verify: (key) => Promise.resolve(key === KNOWN ? reader : null) },
    failures: new FailedAuthLimiter(2),
  };
}

/** What the proxy answered: status, headers and body, as a minimal stand-in for Express's response. */
function recorder() {
  const answer = { status: 0, headers: {} as Record<string, string>, body: '', nextCalled: false };
  const response = {
    status(code: number) {
      answer.status = code;
      return response;
    },
    setHeader(name: string, value: string) {
      answer.headers[name.toLowerCase()] = value;
    },
    type(value: string) {
      answer.headers['content-type'] = value;
      return response;
    },
    send(body: Buffer | string) {
      answer.body = body.toString();
    },
  };
  return { answer, response: response as unknown as Response, next: (() => (answer.nextCalled = true)) as NextFunction };
}

describe('the console proxy', () => {
  let upstream: Server;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  let proxy: ReturnType<typeof consoleProxy>;

  beforeAll(async () => {
    seen = [];
    upstream = createServer((request, response) => {
      seen.push({ method: request.method!, url: request.url!, headers: request.headers });
      response.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'no=thanks' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    proxy = consoleProxy({ pairing: origin, licensing: origin }, authentication());
  });

  afterAll(async () => {
    await new Promise((resolve) => upstream.close(resolve));
  });

  const call = async (method: string, url: string, headers: Record<string, string> = { authorization: `Bearer ${KNOWN}` }) => {
    const { answer, response, next } = recorder();
    await proxy({ method, url, headers, ip: '192.0.2.1' } as unknown as Request, response, next);
    return answer;
  };

  it('forwards a read with the Authorization header only, and passes back the body and its type', async () => {
    seen = [];
    const answer = await call('GET', '/pairing/products?limit=2', {
      authorization: `Bearer ${KNOWN}`,
      cookie: 'session=1',
      'x-forwarded-for': '10.0.0.1',
    });
    expect(answer).toMatchObject({ status: 200, body: '{"ok":true}', headers: { 'content-type': 'application/json' } });
    expect(answer.headers['set-cookie']).toBeUndefined();
    expect(seen).toEqual([
      expect.objectContaining({
        method: 'GET',
        url: '/products?limit=2',
        headers: expect.objectContaining({ authorization: `Bearer ${KNOWN}` }),
      }),
    ]);
    expect(seen[0]!.headers.cookie).toBeUndefined();
    expect(seen[0]!.headers['x-forwarded-for']).toBeUndefined();
  });

  it('forwards a dead letter’s replay, and refuses every other write', async () => {
    expect((await call('POST', '/licensing/dead-letters/12/replay')).status).toBe(200);
    for (const [method, url] of [
      ['POST', '/licensing/products/0123456789AB/licenses'],
      ['DELETE', '/licensing/licenses/x'],
      ['PATCH', '/pairing/products/0123456789AB'],
    ] as const) {
      const answer = await call(method, url);
      expect({ url, status: answer.status, code: (JSON.parse(answer.body) as { code: string }).code }).toEqual({
        url,
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
      });
    }
  });

  it('refuses paths that could leave the service, and leaves other services’ paths alone', async () => {
    for (const url of ['/pairing/../metrics', '/pairing//evil.example/x', '/pairing/a/./b', '/pairing/a b'])
      expect({ url, status: (await call('GET', url)).status }).toEqual({ url, status: 400 });
    // Encoded dot segments too: fetch would resolve them.
    expect((await call('GET', '/pairing/products/%2e%2e/metrics')).status).toBe(400);
    expect((await call('GET', '/pairing/products/%E0%A4%A')).status).toBe(400);
    // Other encoded bytes stay encoded: the service decodes (and validates) its own path.
    expect((await call('GET', '/pairing/products/%41B')).status).toBe(200);
    expect(seen.at(-1)?.url).toBe('/products/%41B');
    expect((await call('GET', '/sync-agent/pairs')).nextCalled).toBe(true);
  });

  it('forwards nothing without a key the sync agent knows, and budgets refused keys per address as its guard does', async () => {
    seen = [];
    expect((await call('GET', '/pairing/products', {})).status).toBe(401);
    expect((await call('GET', '/pairing/products', { authorization: 'Bearer hlsk_unknown' })).status).toBe(401);
    expect((await call('GET', '/pairing/products', { authorization: 'Bearer hlsk_unknown' })).status).toBe(401);
    const throttled = await call('GET', '/pairing/products', { authorization: `Bearer ${KNOWN}` });
    expect({ status: throttled.status, retryAfter: throttled.headers['retry-after'] }).toEqual({ status: 429, retryAfter: '30' });
    expect(seen).toEqual([]);
  });

  it('answers 503 DEPENDENCY_UNAVAILABLE when the service does not answer', async () => {
    const unreachable = consoleProxy({ pairing: 'http://127.0.0.1:9', licensing: 'http://127.0.0.1:9' }, authentication());
    const { answer, response, next } = recorder();
    await unreachable(
      { method: 'GET', url: '/pairing/products', headers: { authorization: `Bearer ${KNOWN}` } } as unknown as Request,
      response,
      next,
    );
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
  });
});

describe('PAIRING_URL and LICENSING_URL', () => {
  it('default to the services’ ports on this host, and keep only the origin', () => {
    expect(consoleUpstreams({})).toEqual({ pairing: 'http://127.0.0.1:3001', licensing: 'http://127.0.0.1:3002' });
    expect(consoleUpstreams({ PAIRING_URL: 'http://pairing:3001/ignored' }).pairing).toBe('http://pairing:3001');
  });

  it('refuse what is not an http(s) URL, naming the variable', () => {
    expect(() => consoleUpstreams({ LICENSING_URL: 'ftp://licensing' })).toThrow(ConfigurationError);
    expect(() => consoleUpstreams({ LICENSING_URL: 'ftp://licensing' })).toThrow(/LICENSING_URL/);
  });
});
