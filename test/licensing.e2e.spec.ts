import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DAY_MS, api, eventually, fromNow, randomSerial, startSystem, type Api, type RunningSystem } from './support/system.js';
import { driver } from './support/driver.js';
import { expectProblem } from './support/problems.js';

jest.setTimeout(60_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UNKNOWN_LICENSE = '3f0c2b1e-1d2f-4c1a-9a57-0d5b8d0c1a99';

let system: RunningSystem;
let pairing: Api;
let licensing: Api;

beforeAll(async () => {
  system = await startSystem('licensing');
  pairing = api(system.pairing);
  licensing = api(system.licensing);
}, 60_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

const { register, grant } = driver(() => system, 'acct-licensing');

async function licensesOf(serial: string): Promise<unknown[]> {
  const response = await licensing.get<{ licenses: unknown[] }>(`/products/${serial}/licenses`);
  expect(response.status).toBe(200);
  return response.body.licenses;
}

describe('the licensing service', () => {
  it('answers GET /health with 200 once ready', async () => {
    const response = await licensing.get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual(expect.objectContaining({ service: 'licensing', status: 'ok' }));
  });
});

describe('the catalog', () => {
  it('lists every SKU with its category and whether a Secondary shares it', async () => {
    const response = await licensing.get('/catalog');

    expect(response.status).toBe(200);
    const bySku = Object.fromEntries(
      (response.body as { sku: string; category: string; shareable: boolean }[]).map((s) => [
        s.sku,
        { category: s.category, shareable: s.shareable },
      ]),
    );
    expect(bySku).toEqual({
      SONICOS_ENHANCED: { category: 'os', shareable: true },
      SUPPORT_24X7: { category: 'support', shareable: true },
      SUPPORT_8X5: { category: 'support', shareable: true },
      GATEWAY_AV: { category: 'security-service', shareable: true },
      IPS: { category: 'security-service', shareable: true },
      ANTI_SPYWARE: { category: 'security-service', shareable: true },
      CONTENT_FILTERING: { category: 'security-service', shareable: true },
      CAPTURE_ATP: { category: 'security-service', shareable: true },
      APP_CONTROL: { category: 'security-service', shareable: true },
      GMS_PREVENTIVE_MAINTENANCE: { category: 'consulting', shareable: false },
      STATEFUL_SYNC: { category: 'upgrade', shareable: false },
    });
    for (const entry of response.body) expect(entry.name).toEqual(expect.any(String));
  });
});

describe('granting a license', () => {
  it('licenses a product registered a moment ago (201), and lists it', async () => {
    const serial = await register();

    const granted = await licensing.post(`/products/${serial}/licenses`, { sku: 'GATEWAY_AV' });

    expect(granted.status).toBe(201);
    expect(granted.body).toEqual({
      licenseId: expect.stringMatching(UUID),
      serial,
      sku: 'GATEWAY_AV',
      expiresAt: null,
      trial: false,
      status: 'active',
      grantedAt: expect.stringMatching(ISO_INSTANT),
      revokedAt: null,
    });
    const listed = await licensing.get(`/products/${serial}/licenses`);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ serial, licenses: [granted.body] });
    expect((await licensing.get(`/licenses/${granted.body.licenseId}`)).body).toEqual(granted.body);
  });

  it('licenses each of several products right after its registration returned', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const serial = await register();
        return (await licensing.post(`/products/${serial}/licenses`, { sku: 'IPS' })).status;
      }),
    );

    expect(results).toEqual([201, 201, 201, 201, 201]);
  });

  it('grants a dated license and a trial, normalising the expiry to UTC', async () => {
    const serial = await register();
    const expiry = new Date(Date.now() + 30 * DAY_MS);
    expiry.setUTCMilliseconds(0);
    // The same instant written with a +02:00 offset.
    const withOffset = new Date(expiry.getTime() + 2 * 3_600_000).toISOString().replace('.000Z', '+02:00');

    const dated = await grant(serial, 'SUPPORT_24X7', { expiresAt: withOffset });
    const trial = await licensing.post(`/products/${serial}/licenses`, {
      sku: 'CAPTURE_ATP',
      expiresAt: fromNow(14 * DAY_MS),
      trial: true,
    });

    expect(dated.expiresAt).toBe(expiry.toISOString());
    expect(trial.status).toBe(201);
    expect(trial.body).toEqual(expect.objectContaining({ sku: 'CAPTURE_ATP', trial: true, status: 'active' }));
    expect(await licensesOf(serial)).toHaveLength(2);
  });

  it('grants STATEFUL_SYNC on an NSA', async () => {
    const serial = await register({ model: 'NSA 4700' });

    const response = await licensing.post(`/products/${serial}/licenses`, { sku: 'STATEFUL_SYNC' });

    expect(response.status).toBe(201);
    expect(response.body).toEqual(expect.objectContaining({ sku: 'STATEFUL_SYNC', status: 'active' }));
  });

  it('rejects a SKU missing from the catalog with 400 UNKNOWN_SKU and grants nothing', async () => {
    const serial = await register();

    expectProblem(await licensing.post(`/products/${serial}/licenses`, { sku: 'FREE_BEER' }), 400, 'UNKNOWN_SKU');
    expect(await licensesOf(serial)).toEqual([]);
  });

  it('rejects a trial without an expiry with 400 TRIAL_REQUIRES_EXPIRY and grants nothing', async () => {
    const serial = await register();

    expectProblem(
      await licensing.post(`/products/${serial}/licenses`, { sku: 'CAPTURE_ATP', trial: true }),
      400,
      'TRIAL_REQUIRES_EXPIRY',
    );
    expectProblem(
      await licensing.post(`/products/${serial}/licenses`, { sku: 'CAPTURE_ATP', trial: true, expiresAt: null }),
      400,
      'TRIAL_REQUIRES_EXPIRY',
    );
    expect(await licensesOf(serial)).toEqual([]);
  });

  it('rejects an expiry in the past with 400 EXPIRY_IN_PAST and grants nothing', async () => {
    const serial = await register();

    expectProblem(
      await licensing.post(`/products/${serial}/licenses`, { sku: 'IPS', expiresAt: fromNow(-DAY_MS) }),
      400,
      'EXPIRY_IN_PAST',
    );
    expect(await licensesOf(serial)).toEqual([]);
  });

  it('rejects a serial the pairing service does not know with 404 PRODUCT_NOT_FOUND', async () => {
    const serial = randomSerial();

    expectProblem(await licensing.post(`/products/${serial}/licenses`, { sku: 'IPS' }), 404, 'PRODUCT_NOT_FOUND');
    expectProblem(await licensing.get(`/products/${serial}/licenses`), 404, 'PRODUCT_NOT_FOUND');
  });

  it('rejects STATEFUL_SYNC on a TZ model with 409 STATEFUL_SYNC_UNSUPPORTED and grants nothing', async () => {
    for (const model of ['TZ 370', 'TZ 570']) {
      const serial = await register({ model });

      expectProblem(
        await licensing.post(`/products/${serial}/licenses`, { sku: 'STATEFUL_SYNC' }),
        409,
        'STATEFUL_SYNC_UNSUPPORTED',
      );
      expect(await licensesOf(serial)).toEqual([]);
    }
  });

  it('still grants other SKUs on a TZ model', async () => {
    const serial = await register({ model: 'TZ 370' });

    expect((await licensing.post(`/products/${serial}/licenses`, { sku: 'GATEWAY_AV' })).status).toBe(201);
  });

  it.each([
    ['an expiry without an offset', { sku: 'IPS', expiresAt: '2099-01-01T00:00:00' }, 'expiresAt'],
    ['a trial flag that is not a boolean', { sku: 'IPS', trial: 'yes' }, 'trial'],
    ['a missing SKU', {}, 'sku'],
    ['an unknown field', { sku: 'IPS', seats: 5 }, '(body)'],
  ])('rejects %s with 400 VALIDATION_FAILED', async (_what, body, field) => {
    const serial = await register();

    const response = await licensing.post(`/products/${serial}/licenses`, body);

    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(await licensesOf(serial)).toEqual([]);
  });

  it('lists a registered product without licenses as an empty list', async () => {
    const serial = await register();

    expect((await licensing.get(`/products/${serial}/licenses`)).body).toEqual({ serial, licenses: [] });
  });
});

describe('reading a license', () => {
  it('answers 404 LICENSE_NOT_FOUND for an unknown license id', async () => {
    expectProblem(await licensing.get(`/licenses/${UNKNOWN_LICENSE}`), 404, 'LICENSE_NOT_FOUND');
  });

  it('answers 400 VALIDATION_FAILED for a license id that is not a UUID', async () => {
    expectProblem(await licensing.get('/licenses/42'), 400, 'VALIDATION_FAILED');
  });

  it('reports an active license past its expiry as expired, computed against the clock', async () => {
    const serial = await register();
    const { licenseId } = await grant(serial, 'CAPTURE_ATP', { trial: true, expiresAt: fromNow(1_500) });
    expect((await licensing.get(`/licenses/${licenseId}`)).body.status).toBe('active');

    await eventually(
      async () => {
        expect((await licensing.get(`/licenses/${licenseId}`)).body.status).toBe('expired');
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 200, description: 'the trial to be reported as expired' },
    );
    expect((await licensing.get(`/products/${serial}/licenses`)).body.licenses).toEqual([
      expect.objectContaining({ licenseId, status: 'expired' }),
    ]);
  });
});

describe('renewing a license', () => {
  it('moves the expiry to a later date (201)', async () => {
    const serial = await register();
    const { licenseId } = await grant(serial, 'SUPPORT_24X7', { expiresAt: fromNow(30 * DAY_MS) });
    const later = fromNow(395 * DAY_MS);

    const renewed = await licensing.post(`/licenses/${licenseId}/renewals`, { expiresAt: later });

    expect(renewed.status).toBe(201);
    expect(renewed.body).toEqual(
      expect.objectContaining({ licenseId, serial, sku: 'SUPPORT_24X7', expiresAt: later, status: 'active' }),
    );
    expect((await licensing.get(`/licenses/${licenseId}`)).body.expiresAt).toBe(later);
    expect((await licensesOf(serial))[0]).toEqual(expect.objectContaining({ licenseId, expiresAt: later }));
  });

  it('rejects an expiry that is not later than the current one with 409 RENEWAL_NOT_LATER, keeping the expiry', async () => {
    const serial = await register();
    const current = fromNow(30 * DAY_MS);
    const { licenseId } = await grant(serial, 'SUPPORT_24X7', { expiresAt: current });

    expectProblem(await licensing.post(`/licenses/${licenseId}/renewals`, { expiresAt: current }), 409, 'RENEWAL_NOT_LATER');
    expectProblem(
      await licensing.post(`/licenses/${licenseId}/renewals`, { expiresAt: fromNow(10 * DAY_MS) }),
      409,
      'RENEWAL_NOT_LATER',
    );
    expect((await licensing.get(`/licenses/${licenseId}`)).body.expiresAt).toBe(current);
  });

  it('rejects a renewal into the past with 400 EXPIRY_IN_PAST', async () => {
    const serial = await register();
    const current = fromNow(30 * DAY_MS);
    const { licenseId } = await grant(serial, 'SUPPORT_24X7', { expiresAt: current });

    expectProblem(
      await licensing.post(`/licenses/${licenseId}/renewals`, { expiresAt: fromNow(-DAY_MS) }),
      400,
      'EXPIRY_IN_PAST',
    );
    expect((await licensing.get(`/licenses/${licenseId}`)).body.expiresAt).toBe(current);
  });

  it('rejects renewing a perpetual license with 409 LICENSE_PERPETUAL', async () => {
    const serial = await register();
    const { licenseId } = await grant(serial, 'SONICOS_ENHANCED');

    expectProblem(
      await licensing.post(`/licenses/${licenseId}/renewals`, { expiresAt: fromNow(DAY_MS) }),
      409,
      'LICENSE_PERPETUAL',
    );
    expect((await licensing.get(`/licenses/${licenseId}`)).body.expiresAt).toBeNull();
  });

  it('answers 404 LICENSE_NOT_FOUND for an unknown license id', async () => {
    expectProblem(
      await licensing.post(`/licenses/${UNKNOWN_LICENSE}/renewals`, { expiresAt: fromNow(DAY_MS) }),
      404,
      'LICENSE_NOT_FOUND',
    );
  });
});

describe('revoking a license', () => {
  it('revokes the license: status revoked on DELETE, GET and in the list', async () => {
    const serial = await register();
    const { licenseId } = await grant(serial, 'IPS', { expiresAt: fromNow(30 * DAY_MS) });

    const revoked = await licensing.delete(`/licenses/${licenseId}`);

    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual(
      expect.objectContaining({ licenseId, status: 'revoked', revokedAt: expect.stringMatching(ISO_INSTANT) }),
    );
    expect((await licensing.get(`/licenses/${licenseId}`)).body).toEqual(revoked.body);
    expect(await licensesOf(serial)).toEqual([revoked.body]);
  });

  it('rejects revoking or renewing a revoked license with 409 LICENSE_REVOKED, changing nothing', async () => {
    const serial = await register();
    const { licenseId } = await grant(serial, 'IPS', { expiresAt: fromNow(30 * DAY_MS) });
    const revoked = (await licensing.delete(`/licenses/${licenseId}`)).body;

    expectProblem(await licensing.delete(`/licenses/${licenseId}`), 409, 'LICENSE_REVOKED');
    expectProblem(
      await licensing.post(`/licenses/${licenseId}/renewals`, { expiresAt: fromNow(60 * DAY_MS) }),
      409,
      'LICENSE_REVOKED',
    );
    expect((await licensing.get(`/licenses/${licenseId}`)).body).toEqual(revoked);
  });

  it('answers 404 LICENSE_NOT_FOUND for an unknown license id', async () => {
    expectProblem(await licensing.delete(`/licenses/${UNKNOWN_LICENSE}`), 404, 'LICENSE_NOT_FOUND');
  });
});

describe('when the pairing service is down', () => {
  it('refuses a grant with 503 DEPENDENCY_UNAVAILABLE and records nothing, then grants once pairing is back', async () => {
    const serial = randomSerial();
    expect(
      (await pairing.post('/products', { serial, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'acct-down' })).status,
    ).toBe(201);
    await system.processes.pairing.stop();

    expectProblem(await licensing.post(`/products/${serial}/licenses`, { sku: 'IPS' }), 503, 'DEPENDENCY_UNAVAILABLE');

    await system.restart('pairing');
    expect((await licensing.get(`/products/${serial}/licenses`)).body).toEqual({ serial, licenses: [] });
    expect((await licensing.post(`/products/${serial}/licenses`, { sku: 'IPS' })).status).toBe(201);
  });
});
