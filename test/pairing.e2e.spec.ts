import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { busNames, parseEnvelope, type EventEnvelope } from '#shared/contracts';
import { streamMessages } from '#shared/testing';
import {
  NATS_URL,
  api,
  eventually,
  randomSerial,
  startSystem,
  type Api,
  type Json,
  type RunningSystem,
} from './support/system.js';
import { driver, productInput, type ProductInput } from './support/driver.js';
import { expectProblem } from './support/problems.js';

jest.setTimeout(60_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

let system: RunningSystem;
let pairing: Api;

beforeAll(async () => {
  system = await startSystem('pairing');
  pairing = api(system.pairing);
}, 60_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

/** Asserts an RFC 9457 problem answer with our stable code. */

const { registerProduct: register, associate } = driver(() => system, 'acct-pairing');
const product = (overrides: Partial<ProductInput> = {}) => productInput('acct-pairing', overrides);

describe('the pairing service', () => {
  it('answers GET /health with 200 once ready', async () => {
    const response = await pairing.get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual(expect.objectContaining({ service: 'pairing', status: 'ok' }));
  });

  it('answers an unknown route with a problem+json 404', async () => {
    expectProblem(await pairing.get('/no-such-route'), 404, 'ROUTE_NOT_FOUND');
  });
});

describe('registering a product', () => {
  it('registers a product (201) and shows it on GET', async () => {
    const input = product({ model: 'TZ 370', firmwareVersion: '6.5.4' });

    const created = await pairing.post('/products', input);

    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      ...input,
      registeredAt: expect.stringMatching(ISO_INSTANT),
      statefulSyncCapable: false,
      pairId: null,
    });
    const read = await pairing.get(`/products/${input.serial}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
  });

  it('reports whether the model can run stateful sync', async () => {
    const nsa = await register({ model: 'NSA 4700' });
    expect((await pairing.get(`/products/${nsa.serial}`)).body.statefulSyncCapable).toBe(true);
  });

  it('rejects a second registration of the same serial with 409 PRODUCT_ALREADY_REGISTERED and keeps the first', async () => {
    const first = await register({ model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: 'acct-first' });
    const before = (await pairing.get(`/products/${first.serial}`)).body;

    const again = await pairing.post('/products', {
      ...first,
      model: 'NSA 4700',
      firmwareVersion: '7.1.0',
      accountId: 'acct-other',
    });

    expectProblem(again, 409, 'PRODUCT_ALREADY_REGISTERED');
    expect((await pairing.get(`/products/${first.serial}`)).body).toEqual(before);
  });

  it('rejects a model missing from the catalog with 400 UNKNOWN_MODEL and registers nothing', async () => {
    const input = product({ model: 'NSA 9999' });

    const refused = await pairing.post('/products', input);
    expectProblem(refused, 400, 'UNKNOWN_MODEL');
    expect(refused.body.detail).toContain('valid models: "NSA 2700"');
    expectProblem(await pairing.get(`/products/${input.serial}`), 404, 'PRODUCT_NOT_FOUND');
  });

  it('lists the models a product can be registered as, the one a refused model is compared with', async () => {
    const models = await pairing.get('/models');
    expect(models.status).toBe(200);
    expect(models.body).toContainEqual({ model: 'NSA 2700', statefulSync: true });
    expect(models.body).toContainEqual({ model: 'TZ 270', statefulSync: false });
    expect((await pairing.post('/products', product({ model: models.body[0].model as string }))).status).toBe(201);
  });

  it.each([
    ['a lower-case serial', { serial: 'abcdef012345' }, 'serial'],
    ['a serial of 11 characters', { serial: '0123456789A' }, 'serial'],
    ['a serial with a letter past F', { serial: '0123456789AG' }, 'serial'],
    ['a malformed firmware version', { firmwareVersion: 'seven' }, 'firmwareVersion'],
    ['an empty account', { accountId: '' }, 'accountId'],
  ])('rejects %s with 400 VALIDATION_FAILED naming the field', async (_what, overrides, field) => {
    const input = product(overrides);

    const response = await pairing.post('/products', input);

    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual(expect.arrayContaining([{ field, message: expect.any(String) }]));
  });

  it('rejects a body missing fields, listing each missing field', async () => {
    const response = await pairing.post('/products', { serial: randomSerial() });

    expectProblem(response, 400, 'VALIDATION_FAILED');
    const fields = (response.body.errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['model', 'firmwareVersion', 'accountId']));
  });

  it('rejects unknown fields in the body', async () => {
    const input = product();

    const response = await pairing.post('/products', { ...input, color: 'red' });

    expectProblem(response, 400, 'VALIDATION_FAILED');
    expectProblem(await pairing.get(`/products/${input.serial}`), 404, 'PRODUCT_NOT_FOUND');
  });

  it('rejects a body that is not JSON with 400 VALIDATION_FAILED', async () => {
    const response = await pairing.request('POST', '/products', '{"serial": ', { 'content-type': 'application/json' });

    expectProblem(response, 400, 'VALIDATION_FAILED');
  });
});

describe('reading a product', () => {
  it('answers 404 PRODUCT_NOT_FOUND for a serial never registered', async () => {
    expectProblem(await pairing.get(`/products/${randomSerial()}`), 404, 'PRODUCT_NOT_FOUND');
  });

  it('answers 400 VALIDATION_FAILED for a malformed serial in the path', async () => {
    const response = await pairing.get('/products/not-a-serial');

    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual([{ field: 'serial', message: expect.any(String) }]);
  });
});

describe('changing the firmware', () => {
  it('records the new firmware version', async () => {
    const input = await register({ firmwareVersion: '6.5.4' });

    const changed = await pairing.patch(`/products/${input.serial}`, { firmwareVersion: '7.0.1' });

    expect(changed.status).toBe(200);
    expect(changed.body).toEqual(expect.objectContaining({ serial: input.serial, firmwareVersion: '7.0.1' }));
    expect((await pairing.get(`/products/${input.serial}`)).body.firmwareVersion).toBe('7.0.1');
  });

  it('accepts a downgrade', async () => {
    const input = await register({ firmwareVersion: '7.0.1' });

    expect((await pairing.patch(`/products/${input.serial}`, { firmwareVersion: '3.9' })).status).toBe(200);
    expect((await pairing.get(`/products/${input.serial}`)).body.firmwareVersion).toBe('3.9');
  });

  it('answers 404 PRODUCT_NOT_FOUND for a serial never registered', async () => {
    const serial = randomSerial();

    expectProblem(await pairing.patch(`/products/${serial}`, { firmwareVersion: '7.0.1' }), 404, 'PRODUCT_NOT_FOUND');
    expectProblem(await pairing.get(`/products/${serial}`), 404, 'PRODUCT_NOT_FOUND');
  });

  it('rejects a malformed version with 400 VALIDATION_FAILED and keeps the old one', async () => {
    const input = await register({ firmwareVersion: '7.0.1' });

    const response = await pairing.patch(`/products/${input.serial}`, { firmwareVersion: 'latest' });

    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual([{ field: 'firmwareVersion', message: expect.any(String) }]);
    expect((await pairing.get(`/products/${input.serial}`)).body.firmwareVersion).toBe('7.0.1');
  });
});

describe('associating two products', () => {
  it('creates a pair (201) that GET /pairs/:pairId and both products show', async () => {
    const primary = await register();
    const secondary = await register();

    const created = await pairing.post('/pairs', { primarySerial: primary.serial, secondarySerial: secondary.serial });

    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      pairId: expect.stringMatching(UUID),
      primarySerial: primary.serial,
      secondarySerial: secondary.serial,
      model: 'NSA 2700',
      accountId: 'acct-pairing',
      status: 'associated',
      associatedAt: expect.stringMatching(ISO_INSTANT),
      dissociatedAt: null,
    });
    const { pairId } = created.body;
    const read = await pairing.get(`/pairs/${pairId}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect((await pairing.get(`/products/${primary.serial}`)).body.pairId).toBe(pairId);
    expect((await pairing.get(`/products/${secondary.serial}`)).body.pairId).toBe(pairId);
  });

  it('rejects pairing a product with itself with 409 SAME_PRODUCT', async () => {
    const unit = await register();

    expectProblem(
      await pairing.post('/pairs', { primarySerial: unit.serial, secondarySerial: unit.serial }),
      409,
      'SAME_PRODUCT',
    );
    expect((await pairing.get(`/products/${unit.serial}`)).body.pairId).toBeNull();
  });

  it('rejects an unregistered Primary or Secondary with 404 PRODUCT_NOT_FOUND', async () => {
    const unit = await register();
    const ghost = randomSerial();

    const unknownPrimary = await pairing.post('/pairs', { primarySerial: ghost, secondarySerial: unit.serial });
    const unknownSecondary = await pairing.post('/pairs', { primarySerial: unit.serial, secondarySerial: ghost });

    expectProblem(unknownPrimary, 404, 'PRODUCT_NOT_FOUND');
    expect(unknownPrimary.body.detail).toContain(ghost);
    expectProblem(unknownSecondary, 404, 'PRODUCT_NOT_FOUND');
    expect(unknownSecondary.body.detail).toContain(ghost);
    expect((await pairing.get(`/products/${unit.serial}`)).body.pairId).toBeNull();
  });

  it('rejects two different models with 409 MODEL_MISMATCH', async () => {
    const primary = await register({ model: 'NSA 2700' });
    const secondary = await register({ model: 'NSA 4700' });

    expectProblem(
      await pairing.post('/pairs', { primarySerial: primary.serial, secondarySerial: secondary.serial }),
      409,
      'MODEL_MISMATCH',
    );
    expect((await pairing.get(`/products/${primary.serial}`)).body.pairId).toBeNull();
    expect((await pairing.get(`/products/${secondary.serial}`)).body.pairId).toBeNull();
  });

  it('rejects two accounts with 409 ACCOUNT_MISMATCH', async () => {
    const primary = await register({ accountId: 'acct-a' });
    const secondary = await register({ accountId: 'acct-b' });

    expectProblem(
      await pairing.post('/pairs', { primarySerial: primary.serial, secondarySerial: secondary.serial }),
      409,
      'ACCOUNT_MISMATCH',
    );
    expect((await pairing.get(`/products/${primary.serial}`)).body.pairId).toBeNull();
    expect((await pairing.get(`/products/${secondary.serial}`)).body.pairId).toBeNull();
  });

  it('rejects a product that is already in a pair, in either role, with 409 ALREADY_PAIRED and keeps the pair', async () => {
    const primary = await register();
    const secondary = await register();
    const third = await register();
    const pairId = await associate(primary.serial, secondary.serial);

    const cases = [
      { primarySerial: primary.serial, secondarySerial: third.serial },
      { primarySerial: third.serial, secondarySerial: secondary.serial },
      { primarySerial: secondary.serial, secondarySerial: third.serial },
      { primarySerial: third.serial, secondarySerial: primary.serial },
      { primarySerial: secondary.serial, secondarySerial: primary.serial },
    ];
    for (const body of cases) expectProblem(await pairing.post('/pairs', body), 409, 'ALREADY_PAIRED');

    expect((await pairing.get(`/products/${primary.serial}`)).body.pairId).toBe(pairId);
    expect((await pairing.get(`/products/${secondary.serial}`)).body.pairId).toBe(pairId);
    expect((await pairing.get(`/products/${third.serial}`)).body.pairId).toBeNull();
    expect((await pairing.get(`/pairs/${pairId}`)).body).toEqual(
      expect.objectContaining({ status: 'associated', primarySerial: primary.serial, secondarySerial: secondary.serial }),
    );
  });

  it('lets only one of two concurrent associations of the same product win', async () => {
    const primary = await register();
    const a = await register();
    const b = await register();

    const results = await Promise.all([
      pairing.post('/pairs', { primarySerial: primary.serial, secondarySerial: a.serial }),
      pairing.post('/pairs', { primarySerial: primary.serial, secondarySerial: b.serial }),
    ]);

    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const loser = results.find((r) => r.status === 409)!;
    expectProblem(loser, 409, 'ALREADY_PAIRED');
    const winner = results.find((r) => r.status === 201)!;
    expect((await pairing.get(`/products/${primary.serial}`)).body.pairId).toBe(winner.body.pairId);
  });

  it('rejects malformed serials with 400 VALIDATION_FAILED', async () => {
    const response = await pairing.post('/pairs', { primarySerial: 'nope', secondarySerial: randomSerial() });

    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual([{ field: 'primarySerial', message: expect.any(String) }]);
  });
});

describe('reading and dissociating a pair', () => {
  it('answers 404 PAIR_NOT_FOUND for an unknown pair id on GET and DELETE', async () => {
    const unknown = '9b2f3c4d-1a2b-4c3d-8e4f-5a6b7c8d9e0f';

    expectProblem(await pairing.get(`/pairs/${unknown}`), 404, 'PAIR_NOT_FOUND');
    expectProblem(await pairing.delete(`/pairs/${unknown}`), 404, 'PAIR_NOT_FOUND');
  });

  it('answers 400 VALIDATION_FAILED for a pair id that is not a UUID', async () => {
    const response = await pairing.get('/pairs/not-a-uuid');

    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.body.errors).toEqual([{ field: 'pairId', message: expect.any(String) }]);
  });

  it('dissociates a pair, frees both products, and rejects a second DELETE with 409 PAIR_DISSOCIATED', async () => {
    const primary = await register();
    const secondary = await register();
    const pairId = await associate(primary.serial, secondary.serial);

    const dissociated = await pairing.delete(`/pairs/${pairId}`);

    expect(dissociated.status).toBe(200);
    expect(dissociated.body).toEqual(
      expect.objectContaining({ pairId, status: 'dissociated', dissociatedAt: expect.stringMatching(ISO_INSTANT) }),
    );
    expect((await pairing.get(`/pairs/${pairId}`)).body).toEqual(dissociated.body);
    expect((await pairing.get(`/products/${primary.serial}`)).body.pairId).toBeNull();
    expect((await pairing.get(`/products/${secondary.serial}`)).body.pairId).toBeNull();

    expectProblem(await pairing.delete(`/pairs/${pairId}`), 409, 'PAIR_DISSOCIATED');
    expect((await pairing.get(`/pairs/${pairId}`)).body).toEqual(dissociated.body);
  });

  it('lets dissociated products be paired again, under a new pair id', async () => {
    const primary = await register();
    const secondary = await register();
    const first = await associate(primary.serial, secondary.serial);
    expect((await pairing.delete(`/pairs/${first}`)).status).toBe(200);

    const second = await associate(secondary.serial, primary.serial);

    expect(second).not.toBe(first);
    expect((await pairing.get(`/products/${primary.serial}`)).body.pairId).toBe(second);
    expect((await pairing.get(`/pairs/${first}`)).body.status).toBe('dissociated');
  });
});

describe('who made each change', () => {
  /** The pairing events on the bus, as subscribers see them. */
  async function published(): Promise<EventEnvelope[]> {
    const nc = await connect({ servers: NATS_URL });
    try {
      const messages = await streamMessages(await jetstreamManager(nc), busNames(system.namespace).stream('pairing'));
      return messages.map((m) => parseEnvelope(m.data));
    } finally {
      await nc.close();
    }
  }

  it('records the API key id (never the key) as each event’s actor, and shows it in the product’s and pair’s histories', async () => {
    const accountId = `acct-actor-${randomSerial()}`;
    const created = await pairing.post<Json>('/api-keys', { name: 'pairing admin', role: 'account-admin', accountId });
    expect(created.status).toBe(201);
    const { keyId, apiKey } = created.body as { keyId: string; apiKey: string };
    const admin = api(system.pairing, apiKey);
    const [primary, secondary] = [randomSerial(), randomSerial()];
    for (const serial of [primary, secondary])
      expect((await admin.post('/products', { serial, model: 'NSA 2700', firmwareVersion: '7.0.1' })).status).toBe(201);
    const pair = await admin.post<{ pairId: string }>('/pairs', { primarySerial: primary, secondarySerial: secondary });
    expect(pair.status).toBe(201);
    const { pairId } = pair.body;
    expect((await pairing.patch(`/products/${primary}`, { firmwareVersion: '7.1.0' })).status).toBe(200);
    expect((await pairing.delete(`/pairs/${pairId}`)).status).toBe(200);

    const product = await admin.get<Json>(`/products/${primary}/history`);
    expect(product.status).toBe(200);
    expect((product.body.events as Json[]).map((e) => [e.type, e.actor, e.streamVersion])).toEqual([
      ['ProductRegistered', keyId, 1],
      ['ProductFirmwareChanged', 'bootstrap-operator', 2],
    ]);
    expect(product.body.events[1].data).toEqual(
      expect.objectContaining({ serial: primary, previousFirmwareVersion: '7.0.1', firmwareVersion: '7.1.0' }),
    );
    const history = await admin.get<Json>(`/pairs/${pairId}/history`);
    expect(history.status).toBe(200);
    expect((history.body.events as Json[]).map((e) => [e.type, e.actor])).toEqual([
      ['ProductsAssociated', keyId],
      ['ProductsDissociated', 'bootstrap-operator'],
    ]);
    expect(JSON.stringify([product.body, history.body])).not.toContain(apiKey);

    // The same actors travel in the events' metadata on the bus.
    await eventually(
      async () => {
        const mine = (await published()).filter(
          (e) => e.streamId === `product-${primary}` || e.streamId === `product-${secondary}` || e.streamId === `pair-${pairId}`,
        );
        expect(mine.map((e) => [e.type, e.metadata.actor])).toEqual([
          ['ProductRegistered', keyId],
          ['ProductRegistered', keyId],
          ['ProductsAssociated', keyId],
          ['ProductFirmwareChanged', 'bootstrap-operator'],
          ['ProductsDissociated', 'bootstrap-operator'],
        ]);
        expect(JSON.stringify(mine)).not.toContain(apiKey);
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200, description: 'the pairing events with their actors on the bus' },
    );
  });

  it('answers another account’s or an unknown product’s and pair’s history like an unknown id', async () => {
    const primary = await register({ accountId: 'acct-actor-theirs' });
    const secondary = await register({ accountId: 'acct-actor-theirs' });
    const pairId = await associate(primary.serial, secondary.serial);
    const created = await pairing.post<Json>('/api-keys', { name: 'other reader', role: 'reader', accountId: 'acct-actor-mine' });
    const reader = api(system.pairing, created.body.apiKey as string);
    expectProblem(await reader.get(`/products/${primary.serial}/history`), 404, 'PRODUCT_NOT_FOUND');
    expectProblem(await reader.get(`/pairs/${pairId}/history`), 404, 'PAIR_NOT_FOUND');
    expectProblem(await pairing.get(`/products/${randomSerial()}/history`), 404, 'PRODUCT_NOT_FOUND');
    expectProblem(await pairing.get('/pairs/9b2f3c4d-1a2b-4c3d-8e4f-5a6b7c8d9e0f/history'), 404, 'PAIR_NOT_FOUND');
  });
});
