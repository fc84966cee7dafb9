/**
 * Abuse is bounded, against the real services and PostgreSQL: refused API keys are budgeted per client address
 * before any lookup (429 with Retry-After past it, whatever the key), an unknown key costs pairing one lookup
 * however often it comes, one key is held to RATE_LIMIT_PER_MINUTE after a burst of RATE_LIMIT_BURST, a
 * trickled request is cut off with 408 at its time limit, and control characters in any text field are refused
 * 400 naming it. Each loopback source address (127.0.0.x) is its own client address to the services; the last
 * test runs the abuse measurements of `npm run fuzz` with this file's settings.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { LoopbackClient } from '../scripts/fuzz/loopback-client.js';
import { describeAbuse, measureAbuse, slowClient, unknownKey } from '../scripts/fuzz/abuse.js';
import {
  TEST_OPERATOR_KEY,
  api,
  eventually,
  randomSerial,
  startSystem,
  type Json,
  type RunningSystem,
} from './support/system.js';
import { expectProblem } from './support/problems.js';

jest.setTimeout(120_000);

/** Small enough to reach within a test; the burst leaves room for this file's own operator requests. */
const SETTINGS = {
  rateLimitPerMinute: 3_000,
  rateLimitBurst: 200,
  failedAuthPerMinute: 20,
  headersTimeoutSeconds: 2,
  requestTimeoutSeconds: 3,
};

let system: RunningSystem;
const clients: LoopbackClient[] = [];

/** A client from its own loopback address. */
function from(address: string): LoopbackClient {
  const client = new LoopbackClient(address, 16);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  system = await startSystem('abuse', {
    env: {
      RATE_LIMIT_PER_MINUTE: String(SETTINGS.rateLimitPerMinute),
      RATE_LIMIT_BURST: String(SETTINGS.rateLimitBurst),
      FAILED_AUTH_PER_MINUTE: String(SETTINGS.failedAuthPerMinute),
      HTTP_HEADERS_TIMEOUT_SECONDS: String(SETTINGS.headersTimeoutSeconds),
      HTTP_REQUEST_TIMEOUT_SECONDS: String(SETTINGS.requestTimeoutSeconds),
    },
  });
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await system?.stop();
}, 60_000);

/** pairing's api_keys lookups so far, by answer. */
async function lookups(answer: 'known' | 'unknown'): Promise<number> {
  const response = await api(system.pairing).get<string>('/metrics');
  expect(response.status).toBe(200);
  const line = response.body
    .split('\n')
    .find((l) => l.startsWith('ha_license_sync_api_key_lookups_total{') && l.includes(`answer="${answer}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** An API key of `role` made by the operator. */
async function createKey(name: string): Promise<string> {
  const created = await api(system.pairing).post<Json>('/api-keys', { name, role: 'reader', accountId: 'acct-abuse' });
  expect(created.status).toBe(201);
  return created.body.apiKey as string;
}

const problemOf = (body: string) => JSON.parse(body) as { code: string; errors?: { field: string; message: string }[] };

describe('refused API keys', () => {
  it('are budgeted per address: past FAILED_AUTH_PER_MINUTE, 429 with Retry-After for any key, without a lookup', async () => {
    const attacker = from('127.0.0.7');
    const path = `${system.pairing}/products/${randomSerial()}`;
    const before = await lookups('unknown');
    for (let i = 0; i < SETTINGS.failedAuthPerMinute; i++)
      expect((await attacker.request(path, { key: unknownKey() })).status).toBe(401);
    expect(await lookups('unknown')).toBe(before + SETTINGS.failedAuthPerMinute);

    const throttled = await attacker.request(path, { key: unknownKey() });
    expect(throttled.status).toBe(429);
    expect(throttled.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemOf(throttled.body).code).toBe('RATE_LIMITED');
    // One token back takes 60 / FAILED_AUTH_PER_MINUTE = 3 s.
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(throttled.headers['retry-after'])).toBeLessThanOrEqual(3);
    // A valid key from that address is not looked up either.
    const knownBefore = await lookups('known');
    expect((await attacker.request(path, { key: TEST_OPERATOR_KEY })).status).toBe(429);
    expect((await attacker.request(path, { key: await createKey('abuse: behind the attacker') })).status).toBe(429);
    expect(await lookups('known')).toBe(knownBefore);
    expect(await lookups('unknown')).toBe(before + SETTINGS.failedAuthPerMinute);

    // Other addresses are not slowed down, public routes are not limited, and the budget refills.
    expect((await from('127.0.0.8').request(path, { key: unknownKey() })).status).toBe(401);
    expect((await api(system.pairing).get('/api-keys')).status).toBe(200);
    expect((await attacker.request(`${system.pairing}/health`)).status).toBe(200);
    await eventually(async () => (await attacker.request(path, { key: TEST_OPERATOR_KEY })).status === 404, {
      timeoutMs: 10_000,
      intervalMs: 500,
      description: 'the address to have budget again',
    });
  });

  it('are budgeted by each service on its own (licensing asks pairing over NATS)', async () => {
    const attacker = from('127.0.0.9');
    for (let i = 0; i < SETTINGS.failedAuthPerMinute; i++)
      expect((await attacker.request(`${system.licensing}/catalog`, { key: unknownKey() })).status).toBe(401);
    expect((await attacker.request(`${system.licensing}/catalog`, { key: unknownKey() })).status).toBe(429);
    expect((await attacker.request(`${system.pairing}/api-keys`, { key: TEST_OPERATOR_KEY })).status).toBe(200);
  });
});

describe('an unknown key', () => {
  it('costs pairing one lookup however often it comes, and a key not of the issued form none', async () => {
    const client = from('127.0.0.10');
    const key = unknownKey();
    const before = await lookups('unknown');
    for (let i = 0; i < 8; i++) expect((await client.request(`${system.pairing}/api-keys`, { key })).status).toBe(401);
    for (const malformed of ['hlsk_short', 'x'.repeat(60), 'Bearer'])
      expect((await client.request(`${system.pairing}/api-keys`, { key: malformed })).status).toBe(401);
    expect(await lookups('unknown')).toBe(before + 1);
  });

  it('does not delay a revocation: pairing refuses a revoked key at once', async () => {
    const created = await api(system.pairing).post<Json>('/api-keys', {
      name: 'abuse: revoked',
      role: 'reader',
      accountId: 'acct-abuse',
    });
    const key = created.body.apiKey as string;
    const reader = api(system.pairing, key);
    expect((await reader.get(`/products/${randomSerial()}`)).status).toBe(404);
    expect((await api(system.pairing).delete(`/api-keys/${created.body.keyId as string}`)).status).toBe(200);
    expectProblem(await reader.get(`/products/${randomSerial()}`), 401, 'UNAUTHENTICATED');
  });
});

describe('one key', () => {
  it(`is held to RATE_LIMIT_PER_MINUTE after a burst of RATE_LIMIT_BURST, apart from other keys`, async () => {
    const key = await createKey('abuse: busy');
    const client = from('127.0.0.11');
    let accepted = 0;
    let limited = 0;
    let firstLimited: { after: number; atSeconds: number } | undefined;
    let retryAfter: string | undefined;
    const started = performance.now();
    const deadline = started + 4_000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < deadline) {
          const response = await client.request(`${system.licensing}/catalog`, { key });
          if (response.status === 200) accepted++;
          else if (response.status === 429) {
            limited++;
            firstLimited ??= { after: accepted, atSeconds: (performance.now() - started) / 1000 };
            retryAfter ??= response.headers['retry-after'] as string;
            expect(problemOf(response.body).code).toBe('RATE_LIMITED');
          } else throw new Error(`unexpected ${response.status} ${response.body}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const allowed = SETTINGS.rateLimitBurst + (SETTINGS.rateLimitPerMinute / 60) * seconds;
    expect(limited).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // The burst first, and what refilled while it was spent (16 requests were in flight when it ran out)...
    const { after, atSeconds } = firstLimited!;
    expect(after).toBeGreaterThanOrEqual(SETTINGS.rateLimitBurst - 16);
    expect(after).toBeLessThanOrEqual(SETTINGS.rateLimitBurst + (SETTINGS.rateLimitPerMinute / 60) * atSeconds + 16);
    // ...then the rate: never more than the two allow, and not much less under a flood.
    expect(accepted).toBeLessThanOrEqual(Math.ceil(allowed) + 1);
    expect(accepted).toBeGreaterThanOrEqual(Math.floor(allowed * 0.85));
    expect((await api(system.licensing).get('/catalog')).status).toBe(200);
  });
});

describe('a client that trickles its request', () => {
  it('is cut off with 408 at HTTP_REQUEST_TIMEOUT_SECONDS when the body trickles, without a key', async () => {
    const body = JSON.stringify({ serial: randomSerial(), model: 'x'.repeat(500) });
    const head = `POST /products HTTP/1.1\r\nHost: e2e\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { closedAfterSeconds, answer } = await slowClient(system.pairing, head, body, 200, 20);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterSeconds).toBeGreaterThanOrEqual(SETTINGS.requestTimeoutSeconds - 0.1);
    expect(closedAfterSeconds).toBeLessThan(SETTINGS.requestTimeoutSeconds + 2.5);
  });

  it('is cut off with 408 at HTTP_HEADERS_TIMEOUT_SECONDS when the head trickles', async () => {
    const { closedAfterSeconds, answer } = await slowClient(
      system.licensing,
      'GET /catalog HTTP/1.1\r\n',
      'X-Slow: '.padEnd(300, 'y'),
      200,
      20,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterSeconds).toBeGreaterThanOrEqual(SETTINGS.headersTimeoutSeconds - 0.1);
    expect(closedAfterSeconds).toBeLessThan(SETTINGS.headersTimeoutSeconds + 2.5);
  });
});

describe('control characters', () => {
  it.each([
    ['a NUL in an API key’s name', 'pairing', '/api-keys', { name: 'portal\u0000key', role: 'operator' }, 'name'],
    [
      'a line feed in a model',
      'pairing',
      '/products',
      { serial: 'AAAAAAAAAAAA', model: 'NSA\n2700', firmwareVersion: '7.0.1', accountId: 'a' },
      'model',
    ],
    ['DEL in a SKU', 'licensing', '/products/AAAAAAAAAAAA/licenses', { sku: 'IPS\u007f' }, 'sku'],
    [
      'an escape in an account id',
      'pairing',
      '/products',
      { serial: 'AAAAAAAAAAAA', model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: '\u001b[2J' },
      'accountId',
    ],
  ] as const)('answer 400 VALIDATION_FAILED naming the field: %s', async (_, service, path, body, field) => {
    const response = await api(service === 'pairing' ? system.pairing : system.licensing).post<Json>(path, body);
    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  });

  it('in a query answer 400 naming the parameter', async () => {
    const response = await api(system.pairing).get<Json>('/api-keys?accountId=acct%00');
    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual([expect.objectContaining({ field: 'accountId' })]);
  });
});

describe('npm run fuzz’s abuse measurements', () => {
  it('find every bound holding with this file’s settings', async () => {
    const report = await measureAbuse(
      {
        pairing: system.pairing,
        licensing: system.licensing,
        syncAgent: system.syncAgent,
        operatorKey: TEST_OPERATOR_KEY,
        settings: SETTINGS,
      },
      { floodSeconds: 3, perKeySeconds: 4, concurrency: 16 },
    );
    expect({ failures: report.failures, lines: describeAbuse(report) }).toEqual({ failures: [], lines: expect.any(Array) });
    expect(report.invalidKeyFlood.throttled).toBeGreaterThan(0);
    expect(report.controlCharacters.refusedNamingField).toBe(report.controlCharacters.sent);
  });
});
