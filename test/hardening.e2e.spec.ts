/**
 * What a hostile or careless client meets: oversized bodies (413), bodies that are not JSON (415), unknown or
 * unbounded fields (400), malformed correlation ids (400), errors without internals, and a production start
 * without the bootstrap operator key (exit 78). Every refusal is problem+json and writes nothing. The rate
 * limits, time limits and control characters: test/abuse.e2e.spec.ts.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  TEST_OPERATOR_KEY,
  api,
  randomSerial,
  startService,
  startSystem,
  type Api,
  type Json,
  type RunningSystem,
} from './support/system.js';
import { expectProblem } from './support/problems.js';

jest.setTimeout(90_000);

let system: RunningSystem;
let pairing: Api;
let licensing: Api;

beforeAll(async () => {
  system = await startSystem('hardening');
  pairing = api(system.pairing);
  licensing = api(system.licensing);
}, 60_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

const product = (serial = randomSerial()) => ({
  serial,
  model: 'NSA 2700',
  firmwareVersion: '7.0.1',
  accountId: 'acct-hardening',
});

async function notRegistered(serial: string): Promise<void> {
  expectProblem(await pairing.get(`/products/${serial}`), 404, 'PRODUCT_NOT_FOUND');
}

/** Nothing of the service's insides in an error: no stack frames, file paths, SQL or driver messages. */
function expectNoInternals(body: Json): void {
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/\bat \S+ \(|node_modules|\.js:\d+|\.ts:\d+|SELECT|INSERT|relation "|syntax error at|stack/i);
}

describe('request bodies', () => {
  it('refuses a JSON body over 16 KB with 413 PAYLOAD_TOO_LARGE and registers nothing', async () => {
    const serial = randomSerial();
    const response = await pairing.post('/products', { ...product(serial), padding: 'x'.repeat(17 * 1024) });
    expectProblem(response, 413, 'PAYLOAD_TOO_LARGE');
    await notRegistered(serial);
  });

  it.each([
    ['text/plain', 'hello'],
    ['application/x-www-form-urlencoded', 'serial=0123456789AB&model=NSA+2700'],
    ['application/xml', '<product/>'],
  ])('refuses a %s body with 415 UNSUPPORTED_MEDIA_TYPE', async (contentType, body) => {
    const response = await pairing.request('POST', '/products', body, { 'content-type': contentType });
    expectProblem(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a body without a content type with 415', async () => {
    const response = await fetch(`${system.pairing}/products`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_OPERATOR_KEY}` },
      body: new Blob([JSON.stringify(product())]),
    });
    expect(response.status).toBe(415);
  });

  it('accepts application/json with a charset', async () => {
    const serial = randomSerial();
    const response = await pairing.request('POST', '/products', JSON.stringify(product(serial)), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(response.status).toBe(201);
  });

  it('refuses unknown fields and values over their bounds with 400 VALIDATION_FAILED naming each field', async () => {
    const serial = randomSerial();
    const response = await pairing.post<Json>('/products', {
      ...product(serial),
      model: 'N'.repeat(65),
      accountId: 'a'.repeat(65),
      extra: 1,
    });
    expectProblem(response, 400, 'VALIDATION_FAILED');
    const fields = (response.body.errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['model', 'accountId']));
    expect(JSON.stringify(response.body.errors)).toMatch(/extra/);
    await notRegistered(serial);
    expectProblem(await pairing.post('/api-keys', { name: 'n'.repeat(101), role: 'operator' }), 400, 'VALIDATION_FAILED');
    expectProblem(await licensing.post(`/products/${serial}/licenses`, { sku: 'S'.repeat(65) }), 400, 'VALIDATION_FAILED');
  });

  it('answers malformed JSON with 400 and no internals', async () => {
    const response = await pairing.request('POST', '/products', '{"serial": ', { 'content-type': 'application/json' });
    expectProblem(response, 400, 'VALIDATION_FAILED');
    expectNoInternals(response.body);
  });

  it('refuses an X-Correlation-Id over 128 characters (it is stored on events) and registers nothing', async () => {
    const serial = randomSerial();
    const response = await pairing.request('POST', '/products', product(serial), { 'x-correlation-id': 'c'.repeat(129) });
    expectProblem(response, 400, 'VALIDATION_FAILED');
    await notRegistered(serial);
  });
});

describe('errors', () => {
  it('carry no stack trace, SQL or key, whatever the input', async () => {
    const responses = [
      await pairing.get('/products/%00%27%22;DROP TABLE events;--'),
      await pairing.get(`/pairs/${"' OR 1=1 --"}`),
      await licensing.get('/licenses/not-a-uuid/history'),
      await pairing.request('POST', '/pairs', '[1,2,3]', { 'content-type': 'application/json' }),
      await pairing.request('POST', '/pairs', '"just a string"', { 'content-type': 'application/json' }),
      await pairing.request('PATCH', '/products/0123456789AB', 'null', { 'content-type': 'application/json' }),
    ];
    for (const response of responses) {
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expectNoInternals(response.body);
    }
  });
});

describe('starting in production', () => {
  it('refuses to start without OPERATOR_API_KEY: exit 78 naming the variable, before listening', async () => {
    const child = startService('pairing', {
      NODE_ENV: 'production',
      OPERATOR_API_KEY: '',
      PAIRING_PORT: '1',
    });
    const { code } = await child.exited;
    expect(code).toBe(78);
    expect(child.log).toMatch(/OPERATOR_API_KEY: is required when NODE_ENV=production/);
  });

  it('refuses a weak OPERATOR_API_KEY without printing it', async () => {
    const child = startService('licensing', { OPERATOR_API_KEY: 'too-short-secret', LICENSING_PORT: '1' });
    const { code } = await child.exited;
    expect(code).toBe(78);
    expect(child.log).toMatch(/OPERATOR_API_KEY: must be 32-512/);
    expect(child.log).not.toContain('too-short-secret');
  });
});
