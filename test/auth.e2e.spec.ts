/**
 * Authentication and tenant isolation, endpoint × role × own/other account → the status a user sees.
 * Account A holds an account-admin and a reader key; account B is the other tenant. Every endpoint of the
 * three services is listed once with who may call it; the expected status of every combination follows from
 * that, and each combination is one request (writes get fresh resources, made with the operator key).
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  DAY_MS,
  TEST_OPERATOR_KEY,
  api,
  eventually,
  fromNow,
  randomSerial,
  startSystem,
  type Api,
  type ApiResponse,
  type Json,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';
import { expectProblem } from './support/problems.js';

jest.setTimeout(180_000);

let system: RunningSystem;
const ACCOUNT_A = `acct-a-${randomSerial()}`;
const ACCOUNT_B = `acct-b-${randomSerial()}`;

type Role = 'operator' | 'auditor' | 'account-admin' | 'reader' | 'metrics' | 'no key' | 'unknown key';
type Target = 'own' | 'other';
type Service = 'pairing' | 'licensing' | 'syncAgent';
const ROLES: readonly Role[] = ['operator', 'auditor', 'account-admin', 'reader', 'metrics', 'no key', 'unknown key'];

/** Who may call an endpoint: this decides every expected status. */
type Access =
  | 'public' // anyone, no key
  | 'metrics' // operator and metrics keys
  | 'operator' // operators only
  | 'readers' // operator, auditor, account-admin, reader; not account data
  | 'account-read' // operator and auditor on every account; account-admin and reader on their own (404 on another's)
  | 'account-write'; // operator; account-admin on its own account (404 on another's); auditor and reader 403

interface Fixture {
  serial: string;
  pairId: string;
  licenseId: string;
}
const fixtures = {} as Record<Target, Fixture>;
const keys = {} as Record<Role, string | null>;
let operator: Record<Service, Api>;

function client(service: Service, role: Role): Api {
  return api(system[service], keys[role]);
}
const accountOf = (target: Target): string => (target === 'own' ? ACCOUNT_A : ACCOUNT_B);
/** The operator's stories on the target account. */
const drivers = { own: driver(() => system, ACCOUNT_A), other: driver(() => system, ACCOUNT_B) };
const register = (target: Target) => drivers[target].register();
const pair = (target: Target) => drivers[target].pair();
const license = async (serial: string): Promise<string> =>
  (await drivers.own.grant(serial, 'GATEWAY_AV', { expiresAt: fromNow(30 * DAY_MS) })).licenseId;

let firmwareMinor = 0;
async function newKey(target: Target): Promise<string> {
  const response = await operator.pairing.post<Json>('/api-keys', {
    name: 'to revoke',
    role: 'reader',
    accountId: accountOf(target),
  });
  expect(response.status).toBe(201);
  return response.body.keyId as string;
}

interface Endpoint {
  readonly name: string;
  readonly service: Service;
  readonly access: Access;
  readonly success: number;
  /** Makes the request as `as` against a resource of the target account (fresh for writes). */
  readonly call: (as: Api, target: Target, role: Role) => Promise<ApiResponse>;
  /** Overrides the rule for this endpoint (e.g. naming another account in a body is 403, not 404). */
  readonly otherAccount?: number;
}

const ENDPOINTS: readonly Endpoint[] = [
  // pairing
  {
    name: 'POST /products',
    service: 'pairing',
    access: 'account-write',
    success: 201,
    // An account-admin names no account (its key's is used) for its own, and names B for the other: 403.
    call: (as, target, role) =>
      as.post('/products', {
        serial: randomSerial(),
        model: 'NSA 2700',
        firmwareVersion: '7.0.1',
        ...(role === 'account-admin' && target === 'own' ? {} : { accountId: accountOf(target) }),
      }),
    otherAccount: 403,
  },
  {
    name: 'GET /products/:serial',
    service: 'pairing',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/products/${fixtures[t].serial}`),
  },
  {
    name: 'PATCH /products/:serial',
    service: 'pairing',
    access: 'account-write',
    success: 200,
    call: (as, t) => as.patch(`/products/${fixtures[t].serial}`, { firmwareVersion: `7.${++firmwareMinor}.0` }),
  },
  {
    name: 'POST /pairs',
    service: 'pairing',
    access: 'account-write',
    success: 201,
    call: async (as, t) => as.post('/pairs', { primarySerial: await register(t), secondarySerial: await register(t) }),
  },
  {
    name: 'GET /pairs/:pairId',
    service: 'pairing',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/pairs/${fixtures[t].pairId}`),
  },
  {
    name: 'DELETE /pairs/:pairId',
    service: 'pairing',
    access: 'account-write',
    success: 200,
    call: async (as, t) => as.delete(`/pairs/${(await pair(t)).pairId}`),
  },
  {
    name: 'POST /pairs/:pairId/replacements',
    service: 'pairing',
    access: 'account-write',
    success: 201,
    call: async (as, t) => {
      const p = await pair(t);
      return as.post(`/pairs/${p.pairId}/replacements`, { failedSerial: p.secondary, replacementSerial: await register(t) });
    },
  },
  {
    name: 'POST /api-keys',
    service: 'pairing',
    access: 'operator',
    success: 201,
    call: (as, t) => as.post('/api-keys', { name: 'matrix', role: 'reader', accountId: accountOf(t) }),
  },
  { name: 'GET /api-keys', service: 'pairing', access: 'operator', success: 200, call: (as) => as.get('/api-keys') },
  {
    name: 'DELETE /api-keys/:keyId',
    service: 'pairing',
    access: 'operator',
    success: 200,
    call: async (as, t) => as.delete(`/api-keys/${await newKey(t)}`),
  },
  // licensing
  { name: 'GET /catalog', service: 'licensing', access: 'readers', success: 200, call: (as) => as.get('/catalog') },
  {
    name: 'POST /products/:serial/licenses',
    service: 'licensing',
    access: 'operator',
    success: 201,
    call: (as, t) => as.post(`/products/${fixtures[t].serial}/licenses`, { sku: 'IPS', expiresAt: fromNow(10 * DAY_MS) }),
  },
  {
    name: 'POST /licenses/:licenseId/renewals',
    service: 'licensing',
    access: 'operator',
    success: 201,
    call: async (as, t) =>
      as.post(`/licenses/${await license(fixtures[t].serial)}/renewals`, { expiresAt: fromNow(60 * DAY_MS) }),
  },
  {
    name: 'DELETE /licenses/:licenseId',
    service: 'licensing',
    access: 'operator',
    success: 200,
    call: async (as, t) => as.delete(`/licenses/${await license(fixtures[t].serial)}`),
  },
  {
    name: 'GET /licenses/:licenseId',
    service: 'licensing',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/licenses/${fixtures[t].licenseId}`),
  },
  {
    name: 'GET /licenses/:licenseId/history',
    service: 'licensing',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/licenses/${fixtures[t].licenseId}/history`),
  },
  {
    name: 'GET /products/:serial/licenses',
    service: 'licensing',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/products/${fixtures[t].serial}/licenses`),
  },
  // sync agent
  {
    name: 'GET /products/:serial/effective-licenses',
    service: 'syncAgent',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/products/${fixtures[t].serial}/effective-licenses`),
  },
  {
    name: 'GET /products/:serial/effective-licenses?at=',
    service: 'syncAgent',
    access: 'account-read',
    success: 200,
    call: (as, t) =>
      as.get(`/products/${fixtures[t].serial}/effective-licenses?at=${encodeURIComponent(new Date().toISOString())}`),
  },
  {
    name: 'GET /products/:serial/effective-licenses/history',
    service: 'syncAgent',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/products/${fixtures[t].serial}/effective-licenses/history`),
  },
  {
    name: 'GET /products/:serial/license-document',
    service: 'syncAgent',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/products/${fixtures[t].serial}/license-document`),
  },
  {
    name: 'GET /pairs/:pairId/failover-readiness',
    service: 'syncAgent',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/pairs/${fixtures[t].pairId}/failover-readiness`),
  },
  {
    name: 'GET /pairs/readiness?accountId=',
    service: 'syncAgent',
    access: 'account-read',
    success: 200,
    call: (as, t) => as.get(`/pairs/readiness?accountId=${encodeURIComponent(accountOf(t))}`),
    otherAccount: 403,
  },
  {
    name: 'GET /.well-known/license-signing-keys',
    service: 'syncAgent',
    access: 'public',
    success: 200,
    call: (as) => as.get('/.well-known/license-signing-keys'),
  },
  // every service
  ...(['pairing', 'licensing', 'syncAgent'] as const).flatMap((service): Endpoint[] => [
    { name: `GET /health (${service})`, service, access: 'public', success: 200, call: (as) => as.get('/health') },
    { name: `GET /metrics (${service})`, service, access: 'metrics', success: 200, call: (as) => as.get('/metrics') },
    {
      name: `GET /.well-known/event-signing-keys (${service})`,
      service,
      access: 'public',
      success: 200,
      call: (as) => as.get('/.well-known/event-signing-keys'),
    },
  ]),
];

/** The status a user must see: the whole access policy in one place. */
function expectedStatus(endpoint: Endpoint, role: Role, target: Target): number {
  if (endpoint.access === 'public') return endpoint.success;
  if (role === 'no key' || role === 'unknown key') return 401;
  const scoped = role === 'account-admin' || role === 'reader';
  const other = scoped && target === 'other' ? (endpoint.otherAccount ?? 404) : endpoint.success;
  switch (endpoint.access) {
    case 'metrics':
      return role === 'operator' || role === 'metrics' ? endpoint.success : 403;
    case 'operator':
      return role === 'operator' ? endpoint.success : 403;
    case 'readers':
      return role === 'metrics' ? 403 : endpoint.success;
    case 'account-read':
      return role === 'metrics' ? 403 : other;
    case 'account-write':
      return role === 'metrics' || role === 'reader' || role === 'auditor' ? 403 : other;
  }
}

const CODES: Record<number, string> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN' };

beforeAll(async () => {
  system = await startSystem('auth');
  operator = { pairing: api(system.pairing), licensing: api(system.licensing), syncAgent: api(system.syncAgent) };
  keys.operator = TEST_OPERATOR_KEY;
  keys['no key'] = null;
  keys['unknown key'] = `hlsk_${'A'.repeat(43)}`;
  for (const [role, body] of [
    ['account-admin', { name: 'admin of A', role: 'account-admin', accountId: ACCOUNT_A }],
    ['reader', { name: 'reader of A', role: 'reader', accountId: ACCOUNT_A }],
    ['metrics', { name: 'prometheus', role: 'metrics' }],
    ['auditor', { name: 'reconciliation', role: 'auditor' }],
  ] as const) {
    const response = await operator.pairing.post<Json>('/api-keys', body);
    expect(response.status).toBe(201);
    keys[role] = response.body.apiKey as string;
  }
  for (const target of ['own', 'other'] as const) {
    const p = await pair(target);
    fixtures[target] = { serial: p.primary, pairId: p.pairId, licenseId: await license(p.primary) };
  }
  // The sync agent answers for a product once it has applied its events.
  await eventually(
    async () => {
      for (const target of ['own', 'other'] as const) {
        expect((await operator.syncAgent.get(`/products/${fixtures[target].serial}/effective-licenses`)).status).toBe(200);
        expect((await operator.syncAgent.get(`/pairs/${fixtures[target].pairId}/failover-readiness`)).status).toBe(200);
      }
      return true;
    },
    { timeoutMs: 20_000, intervalMs: 100, description: 'the sync agent to know both accounts' },
  );
}, 120_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

describe('every endpoint × role × own or other account', () => {
  const rows = ENDPOINTS.flatMap((endpoint) =>
    ROLES.flatMap((role) => (['own', 'other'] as const).map((target) => ({ endpoint, role, target }))),
  );

  it.each(rows.map((r) => [`${r.endpoint.name} as ${r.role} on ${r.target} account`, r] as const))('%s', async (_, row) => {
    const { endpoint, role, target } = row;
    const expected = expectedStatus(endpoint, role, target);
    const response = await endpoint.call(client(endpoint.service, role), target, role);
    expect({ status: response.status, body: response.status === expected ? 'as expected' : response.body }).toEqual({
      status: expected,
      body: 'as expected',
    });
    if (expected >= 400) expectProblem(response, expected, response.body.code as string);
    if (CODES[expected]) expect(response.body.code).toBe(CODES[expected]);
    if (expected === 401) expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });
});

describe('another account’s resources', () => {
  const unknownId = '00000000-0000-4000-8000-000000000000';
  const probes: [string, Service, (id: { serial: string; pairId: string; licenseId: string }) => string][] = [
    ['a product', 'pairing', (i) => `/products/${i.serial}`],
    ['a pair', 'pairing', (i) => `/pairs/${i.pairId}`],
    ['a license', 'licensing', (i) => `/licenses/${i.licenseId}`],
    ['the licenses of a product', 'licensing', (i) => `/products/${i.serial}/licenses`],
    ['an effective set', 'syncAgent', (i) => `/products/${i.serial}/effective-licenses`],
    ['a failover readiness', 'syncAgent', (i) => `/pairs/${i.pairId}/failover-readiness`],
  ];

  it.each(probes)('answer for %s exactly what an unknown id answers', async (_, service, path) => {
    const reader = client(service, 'reader');
    const unknown = { serial: randomSerial(), pairId: unknownId, licenseId: unknownId };
    const other = fixtures.other;
    const forOther = await reader.get(path(other));
    const forUnknown = await reader.get(path(unknown));
    expect(forOther.status).toBe(404);
    const normalise = (body: Json, ids: typeof unknown) =>
      JSON.parse(
        JSON.stringify(body).replaceAll(ids.serial, '<id>').replaceAll(ids.pairId, '<id>').replaceAll(ids.licenseId, '<id>'),
      );
    expect(normalise(forOther.body, other)).toEqual(normalise(forUnknown.body, unknown));
    expect(forOther.headers.get('content-type')).toBe(forUnknown.headers.get('content-type'));
  });

  it('an account-admin cannot pair its product with another account’s: 404 PRODUCT_NOT_FOUND, nothing written', async () => {
    const admin = client('pairing', 'account-admin');
    const mine = await register('own');
    const theirs = await register('other');
    const response = await admin.post('/pairs', { primarySerial: mine, secondarySerial: theirs });
    expectProblem(response, 404, 'PRODUCT_NOT_FOUND');
    expect((await operator.pairing.get<Json>(`/products/${mine}`)).body.pairId).toBeNull();
    expect((await operator.pairing.get<Json>(`/products/${theirs}`)).body.pairId).toBeNull();
  });

  it('an account-admin’s registration lands in its own account', async () => {
    const serial = randomSerial();
    const response = await client('pairing', 'account-admin').post<Json>('/products', {
      serial,
      model: 'TZ 270',
      firmwareVersion: '7.0.1',
    });
    expect(response.status).toBe(201);
    expect(response.body.accountId).toBe(ACCOUNT_A);
  });
});

describe('API keys', () => {
  it('are shown once, listed without secrets, and stop working everywhere once revoked', async () => {
    const created = await operator.pairing.post<Json>('/api-keys', { name: 'short-lived', role: 'reader', accountId: ACCOUNT_A });
    expect(created.status).toBe(201);
    const key = created.body.apiKey as string;
    expect(key).toMatch(/^hlsk_[A-Za-z0-9_-]{43}$/);
    const listed = await operator.pairing.get<Json>(`/api-keys?accountId=${encodeURIComponent(ACCOUNT_A)}`);
    expect(listed.body.keys).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ keyId: created.body.keyId, revokedAt: null, keyPrefix: key.slice(0, 9) }),
      ]),
    );
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const paths: [Service, string][] = [
      ['pairing', `/products/${fixtures.own.serial}`],
      ['licensing', `/licenses/${fixtures.own.licenseId}`],
      ['syncAgent', `/products/${fixtures.own.serial}/effective-licenses`],
    ];
    for (const [service, path] of paths) expect((await api(system[service], key).get(path)).status).toBe(200);

    const revoked = await operator.pairing.delete<Json>(`/api-keys/${created.body.keyId as string}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    // pairing owns the keys: at once; the others within API_KEY_CACHE_SECONDS.
    expectProblem(await api(system.pairing, key).get(paths[0]![1]), 401, 'UNAUTHENTICATED');
    for (const [service, path] of paths.slice(1))
      await eventually(async () => (await api(system[service], key).get(path)).status === 401, {
        timeoutMs: 15_000,
        intervalMs: 200,
        description: `the revoked key to be refused by ${service}`,
      });
  });

  it('refuse a role without its account, and an account on an operator or auditor key', async () => {
    expectProblem(await operator.pairing.post('/api-keys', { name: 'x', role: 'reader' }), 400, 'VALIDATION_FAILED');
    for (const role of ['operator', 'auditor'])
      expectProblem(
        await operator.pairing.post('/api-keys', { name: 'x', role, accountId: ACCOUNT_A }),
        400,
        'VALIDATION_FAILED',
      );
    expectProblem(await operator.pairing.delete(`/api-keys/00000000-0000-4000-8000-000000000000`), 404, 'API_KEY_NOT_FOUND');
  });

  it('never appear in the services’ logs', async () => {
    for (const key of [TEST_OPERATOR_KEY, keys['account-admin']!, keys.reader!, keys.metrics!, keys.auditor!])
      expect(system.logs()).not.toContain(key.slice(5));
  });
});
