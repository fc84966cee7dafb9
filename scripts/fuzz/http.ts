/**
 * The HTTP half of `npm run fuzz`: requests that must all be refused — unauthenticated, with the wrong role,
 * across tenants, malformed, wrongly typed, oversized, of the wrong media type — against every endpoint of a
 * running system (loopback only). Counts the answers by class and category, and checks that none is a 5xx
 * and that no state changed (a digest of every table of every service, taken before and after).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { LoopbackClient } from './loopback-client.js';

/** A running system to fuzz, and where its state lives. */
export interface FuzzTarget {
  readonly pairing: string;
  readonly licensing: string;
  readonly syncAgent: string;
  readonly operatorKey: string;
  /** The PostgreSQL database and the schema of each service, for the state digest. */
  readonly postgres: pg.ClientConfig;
  readonly schemas: readonly string[];
}

export interface HttpFuzzOptions {
  readonly requests: number;
  readonly seed: number;
  readonly concurrency?: number;
  /** Progress lines (every 10 % of the requests). */
  readonly log?: (line: string) => void;
}

type Category =
  'unauthenticated' | 'wrong-role' | 'cross-tenant' | 'malformed' | 'wrongly-typed' | 'oversized' | 'media-type' | 'header';

export interface HttpFuzzReport {
  readonly sent: number;
  readonly byClass: Record<string, number>;
  readonly byStatus: Record<string, number>;
  readonly byCategory: Record<Category, number>;
  /** Requests answered 5xx (at most 20 kept), or 2xx to a change (which must never be accepted). */
  readonly failures: string[];
  readonly fiveXx: number;
  readonly acceptedChanges: number;
  /** Tables whose digest differs after the run. */
  readonly changedTables: string[];
}

interface Fixtures {
  readonly accountA: string;
  readonly accountB: string;
  readonly keys: { readonly adminA: string; readonly readerA: string; readonly metrics: string; readonly revoked: string };
  readonly a: { readonly serial: string; readonly pairId: string; readonly licenseId: string };
  readonly b: { readonly serial: string; readonly pairId: string; readonly licenseId: string; readonly spare: string };
}

interface Request {
  readonly category: Category;
  readonly service: 'pairing' | 'licensing' | 'syncAgent';
  readonly method: string;
  readonly path: string;
  readonly key: string | null;
  /** A JSON value, or raw text (already serialised) when `raw` is set. */
  readonly body?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

const serial = (): string => randomBytes(6).toString('hex').toUpperCase();
/**
 * Where the unauthenticated requests come from: an address of their own, as an attacker's would be. Each
 * client address has a failed-authentication budget (FAILED_AUTH_PER_MINUTE): sent from 127.0.0.1, they would
 * spend it for every other category and have those answered 429 instead of checked.
 */
const UNAUTHENTICATED_FROM = '127.0.0.6';
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/;

async function call(
  base: string,
  method: string,
  path: string,
  key: string | null,
  body?: unknown,
  extra: { raw?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { ...(key === null ? {} : { authorization: `Bearer ${key}` }) };
  let payload: string | undefined;
  if (extra.raw !== undefined) payload = extra.raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && extra.raw === undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, extra.headers);
  const response = await fetch(`${base}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, json };
}

async function must<T>(what: string, run: Promise<{ status: number; json: unknown }>, status: number): Promise<T> {
  const response = await run;
  if (response.status !== status) throw new Error(`fixture: ${what} → ${response.status} ${JSON.stringify(response.json)}`);
  return response.json as T;
}

/** Two accounts with a pair and a license each, an account-admin, a reader, a metrics and a revoked key. */
async function prepare(target: FuzzTarget): Promise<Fixtures> {
  const op = target.operatorKey;
  const suffix = randomBytes(3).toString('hex');
  const accountA = `fuzz-a-${suffix}`;
  const accountB = `fuzz-b-${suffix}`;
  const key = async (body: object) =>
    await must<{ apiKey: string; keyId: string }>('key', call(target.pairing, 'POST', '/api-keys', op, body), 201);
  const adminA = (await key({ name: 'fuzz admin', role: 'account-admin', accountId: accountA })).apiKey;
  const readerA = (await key({ name: 'fuzz reader', role: 'reader', accountId: accountA })).apiKey;
  const metrics = (await key({ name: 'fuzz metrics', role: 'metrics' })).apiKey;
  const revokedKey = await key({ name: 'fuzz revoked', role: 'account-admin', accountId: accountA });
  await must('revoke', call(target.pairing, 'DELETE', `/api-keys/${revokedKey.keyId}`, op), 200);
  const account = async (accountId: string) => {
    const [primary, secondary, spare] = [serial(), serial(), serial()];
    for (const s of [primary, secondary, spare])
      await must(
        'product',
        call(target.pairing, 'POST', '/products', op, { serial: s, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId }),
        201,
      );
    const pair = await must<{ pairId: string }>(
      'pair',
      call(target.pairing, 'POST', '/pairs', op, { primarySerial: primary, secondarySerial: secondary }),
      201,
    );
    const license = await must<{ licenseId: string }>(
      'license',
      call(target.licensing, 'POST', `/products/${primary}/licenses`, op, {
        sku: 'GATEWAY_AV',
        expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString(),
      }),
      201,
    );
    return { serial: primary, pairId: pair.pairId, licenseId: license.licenseId, spare };
  };
  const a = await account(accountA);
  const b = await account(accountB);
  return { accountA, accountB, keys: { adminA, readerA, metrics, revoked: revokedKey.apiKey }, a, b };
}

// ---- the state digest ---------------------------------------------------------------------------------

/** Every table of every service's schema: row count and an md5 over its rows in a stable order. */
export async function stateDigest(target: FuzzTarget): Promise<Map<string, string>> {
  const client = new pg.Client(target.postgres);
  await client.connect();
  try {
    const digest = new Map<string, string>();
    for (const schema of target.schemas) {
      const { rows: tables } = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`,
        [schema],
      );
      for (const { table_name: table } of tables) {
        const name = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
        const { rows } = await client.query<{ n: string; h: string | null }>(
          `SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${name} t`,
        );
        digest.set(`${schema}.${table}`, `${rows[0]!.n}:${rows[0]!.h ?? ''}`);
      }
    }
    return digest;
  } finally {
    await client.end();
  }
}

function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].filter((n) => before.get(n) !== after.get(n)).sort();
}

/** Whether every service's relay has published every event of its outbox. */
async function relaysCaughtUp(target: FuzzTarget): Promise<boolean> {
  const client = new pg.Client(target.postgres);
  await client.connect();
  try {
    for (const schema of target.schemas) {
      const s = pg.escapeIdentifier(schema);
      const { rows } = await client.query<{ behind: boolean }>(
        `SELECT (SELECT coalesce(max(global_position), 0) FROM ${s}.events) >
                (SELECT coalesce(max(global_position), 0) FROM ${s}.relay_checkpoints) AS behind`,
      );
      if (rows[0]!.behind) return false;
    }
    return true;
  } finally {
    await client.end();
  }
}

/**
 * Waits until the fixtures' consequences have played out: every relay has published its outbox and the
 * digest holds still for `quietMs` (the sync agent has applied what it consumed).
 */
async function settledDigest(target: FuzzTarget, quietMs = 2_000, timeoutMs = 90_000): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  let previous = await stateDigest(target);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const current = await stateDigest(target);
    if (differences(previous, current).length === 0 && (await relaysCaughtUp(target))) return current;
    if (Date.now() > deadline) throw new Error(`state never settled: ${differences(previous, current).join(', ')}`);
    previous = current;
  }
}

// ---- the requests -------------------------------------------------------------------------------------

/** The wrong-type values both arbitraries below draw from (in this order, so a seed replays as before). */
const wrongTypes = [
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.constant(true),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
] as const;
/**
 * Values that are never valid for any field of our bodies: wrong types, and strings longer than any field
 * allows (the longest, an API key's name, is 100). Short strings are not here: many of them are valid names
 * or account ids. `trial: true` and `expiresAt: null` are valid and filtered out where they apply.
 */
const wrongValue = fc.oneof(...wrongTypes, fc.string({ minLength: 101, maxLength: 300 }));
/** Anything, for the value of an unknown field. */
const junkValue = fc.oneof(
  ...wrongTypes,
  fc.string({ minLength: 65, maxLength: 300 }),
  fc.constantFrom('', ' ', '\u0000', '../../etc/passwd', "' OR 1=1 --", '<script>', '７.０.１', 'nan', '-1', '1e999'),
);
/** Path segments that are not a serial, a UUID, nor anything that exists. */
const junkSegment = fc.oneof(
  fc.string({ minLength: 1, maxLength: 80 }),
  fc.constantFrom('..', '%00', "'", '0123456789ab', 'ZZZZZZZZZZZZ', '00000000-0000-0000-0000-00000000000g', '-1', 'null'),
);
/** Bodies that are not JSON objects at all. */
const junkText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{', '{"a":', '[1,2', 'null', '"str"', '123', '[]', 'true', '{"__proto__":{"x":1}}', '\u0000'),
);

interface BodyEndpoint {
  readonly service: Request['service'];
  readonly method: string;
  readonly path: (f: Fixtures) => string;
  /** A valid body for an unknown resource, used as the base of the mutations. */
  readonly template: (f: Fixtures) => Record<string, unknown>;
  /** Fields whose removal makes the body invalid. */
  readonly required: readonly string[];
}

const unknownUuid = '00000000-0000-4000-8000-000000000000';
const BODY_ENDPOINTS: readonly BodyEndpoint[] = [
  {
    service: 'pairing',
    method: 'POST',
    path: () => '/products',
    template: (f) => ({ serial: serial(), model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: f.accountB }),
    required: ['serial', 'model', 'firmwareVersion', 'accountId'],
  },
  {
    service: 'pairing',
    method: 'PATCH',
    path: (f) => `/products/${f.b.serial}`,
    template: () => ({ firmwareVersion: '7.9.9' }),
    required: ['firmwareVersion'],
  },
  {
    service: 'pairing',
    method: 'POST',
    path: () => '/pairs',
    template: (f) => ({ primarySerial: f.b.spare, secondarySerial: serial() }),
    required: ['primarySerial', 'secondarySerial'],
  },
  {
    service: 'pairing',
    method: 'POST',
    path: (f) => `/pairs/${f.b.pairId}/replacements`,
    template: (f) => ({ failedSerial: f.b.serial, replacementSerial: f.b.spare }),
    required: ['failedSerial', 'replacementSerial'],
  },
  {
    service: 'pairing',
    method: 'POST',
    path: () => '/api-keys',
    template: (f) => ({ name: 'fuzz', role: 'reader', accountId: f.accountB }),
    required: ['name', 'role'],
  },
  {
    service: 'licensing',
    method: 'POST',
    path: (f) => `/products/${f.b.serial}/licenses`,
    template: () => ({ sku: 'IPS', expiresAt: new Date(Date.now() + 86_400_000).toISOString(), trial: false }),
    required: ['sku'],
  },
  {
    service: 'licensing',
    method: 'POST',
    path: (f) => `/licenses/${f.b.licenseId}/renewals`,
    template: () => ({ expiresAt: new Date(Date.now() + 800 * 86_400_000).toISOString() }),
    required: ['expiresAt'],
  },
];

interface PathEndpoint {
  readonly service: Request['service'];
  readonly method: string;
  /** The path with `{}` for the fuzzed segment. */
  readonly template: string;
  /** The same endpoint on account B's resource (for cross-tenant requests). */
  readonly ofB: (f: Fixtures) => string;
}

const PATH_ENDPOINTS: readonly PathEndpoint[] = [
  { service: 'pairing', method: 'GET', template: '/products/{}', ofB: (f) => `/products/${f.b.serial}` },
  { service: 'pairing', method: 'GET', template: '/pairs/{}', ofB: (f) => `/pairs/${f.b.pairId}` },
  { service: 'pairing', method: 'DELETE', template: '/pairs/{}', ofB: (f) => `/pairs/${f.b.pairId}` },
  { service: 'pairing', method: 'DELETE', template: '/api-keys/{}', ofB: () => `/api-keys/${unknownUuid}` },
  { service: 'licensing', method: 'GET', template: '/licenses/{}', ofB: (f) => `/licenses/${f.b.licenseId}` },
  { service: 'licensing', method: 'GET', template: '/licenses/{}/history', ofB: (f) => `/licenses/${f.b.licenseId}/history` },
  { service: 'licensing', method: 'DELETE', template: '/licenses/{}', ofB: (f) => `/licenses/${f.b.licenseId}` },
  { service: 'licensing', method: 'GET', template: '/products/{}/licenses', ofB: (f) => `/products/${f.b.serial}/licenses` },
  {
    service: 'syncAgent',
    method: 'GET',
    template: '/products/{}/effective-licenses',
    ofB: (f) => `/products/${f.b.serial}/effective-licenses`,
  },
  {
    service: 'syncAgent',
    method: 'GET',
    template: '/products/{}/effective-licenses/history',
    ofB: (f) => `/products/${f.b.serial}/effective-licenses/history`,
  },
  {
    service: 'syncAgent',
    method: 'GET',
    template: '/products/{}/license-document',
    ofB: (f) => `/products/${f.b.serial}/license-document`,
  },
  {
    service: 'syncAgent',
    method: 'GET',
    template: '/pairs/{}/failover-readiness',
    ofB: (f) => `/pairs/${f.b.pairId}/failover-readiness`,
  },
  {
    service: 'syncAgent',
    method: 'GET',
    template: '/pairs/readiness?accountId={}',
    ofB: (f) => `/pairs/readiness?accountId=${f.accountB}`,
  },
];

/** Every endpoint as a valid request on account B's resources (for unauthenticated and wrong-role requests). */
function validOnB(f: Fixtures): Omit<Request, 'category' | 'key'>[] {
  return [
    ...BODY_ENDPOINTS.map((e) => ({ service: e.service, method: e.method, path: e.path(f), body: e.template(f) })),
    ...PATH_ENDPOINTS.map((e) => ({ service: e.service, method: e.method, path: e.ofB(f) })),
    { service: 'pairing' as const, method: 'GET', path: '/api-keys' },
    { service: 'licensing' as const, method: 'GET', path: '/catalog' },
    { service: 'syncAgent' as const, method: 'GET', path: '/metrics' },
  ];
}

/** One request of a category, drawn with fast-check's random source. */
function generator(f: Fixtures, operatorKey: string): fc.Arbitrary<Request> {
  const onB = validOnB(f);
  const anyOnB = fc.constantFrom(...onB);
  const bodyEndpoint = fc.constantFrom(...BODY_ENDPOINTS);
  const pathEndpoint = fc.constantFrom(...PATH_ENDPOINTS);

  const unauthenticated = fc
    .tuple(
      anyOnB,
      fc.oneof(
        fc.constant<string | null>(null),
        fc.constant(f.keys.revoked),
        fc.constant(`hlsk_${'A'.repeat(43)}`),
        fc.string({ minLength: 1, maxLength: 60 }).filter((s) => /^[\x21-\x7e]+$/.test(s)),
      ),
      fc.boolean(),
    )
    .map(([r, key, malformedHeader]): Request => ({
      ...r,
      category: 'unauthenticated',
      key: null,
      headers: key === null ? {} : { authorization: malformedHeader ? `Basic ${key}` : `Bearer ${key}` },
    }));

  // Readers write, account-admins grant/revoke and manage keys, metrics keys read data: 403 whatever the target.
  const wrongRole = fc.oneof(
    anyOnB.filter((r) => r.method !== 'GET').map((r): Request => ({ ...r, category: 'wrong-role', key: f.keys.readerA })),
    anyOnB
      .filter((r) => (r.service === 'licensing' ? r.method !== 'GET' : r.path.startsWith('/api-keys')))
      .map((r): Request => ({ ...r, category: 'wrong-role', key: f.keys.adminA })),
    anyOnB.filter((r) => r.path !== '/metrics').map((r): Request => ({ ...r, category: 'wrong-role', key: f.keys.metrics })),
  );

  // An account-admin of A on B's products, pairs and licenses, and naming B in bodies.
  const crossTenant = fc
    .tuple(
      fc.oneof(
        pathEndpoint.map((e) => ({ service: e.service, method: e.method, path: e.ofB(f) })),
        bodyEndpoint
          .filter((e) => e.service === 'pairing' && !e.path(f).startsWith('/api-keys'))
          .map((e) => ({ service: e.service, method: e.method, path: e.path(f), body: e.template(f) })),
        fc.constant({
          service: 'pairing' as const,
          method: 'POST',
          path: '/pairs',
          body: { primarySerial: f.a.serial, secondarySerial: f.b.spare },
        }),
      ),
      fc.constantFrom(f.keys.adminA, f.keys.readerA),
    )
    .filter(([r, key]) => !(key === f.keys.adminA && r.path.startsWith('/api-keys')))
    .map(([r, key]): Request => ({ ...r, category: 'cross-tenant', key }));

  // The operator's requests with a broken body or path: missing fields, unknown fields, junk JSON, junk ids.
  const malformed = fc.oneof(
    fc.tuple(bodyEndpoint, fc.nat()).map(([e, i]): Request => {
      const body = e.template(f);
      delete body[e.required[i % e.required.length]!];
      return { category: 'malformed', service: e.service, method: e.method, path: e.path(f), key: operatorKey, body };
    }),
    fc
      .tuple(bodyEndpoint, fc.string({ minLength: 1, maxLength: 20 }), junkValue)
      .filter(([e, name]) => !(name in e.template(f)))
      .map(([e, name, value]): Request => ({
        category: 'malformed',
        service: e.service,
        method: e.method,
        path: e.path(f),
        key: operatorKey,
        body: { ...e.template(f), [name]: value },
      })),
    fc.tuple(bodyEndpoint, junkText).map(([e, raw]): Request => ({
      category: 'malformed',
      service: e.service,
      method: e.method,
      path: e.path(f),
      key: operatorKey,
      raw,
      headers: { 'content-type': 'application/json' },
    })),
    fc.tuple(pathEndpoint, junkSegment).map(([e, segment]): Request => ({
      category: 'malformed',
      service: e.service,
      method: e.method,
      path: e.template.replace('{}', encodeURIComponent(segment)),
      key: operatorKey,
    })),
  );

  // The operator's bodies with one field of the wrong type or out of its bounds.
  const wronglyTyped = fc
    .tuple(bodyEndpoint, fc.nat(), wrongValue)
    .map(([e, i, value]): Request => {
      const body = e.template(f);
      const fields = Object.keys(body);
      body[fields[i % fields.length]!] = value;
      return { category: 'wrongly-typed', service: e.service, method: e.method, path: e.path(f), key: operatorKey, body };
    })
    // `trial: true|false` and `expiresAt: null` are valid values of the grant.
    .filter(
      (r) =>
        !(
          r.path.endsWith('/licenses') &&
          ((r.body as { trial?: unknown }).trial === true || (r.body as { expiresAt?: unknown }).expiresAt === null)
        ),
    );

  const oversized = fc.tuple(bodyEndpoint, fc.integer({ min: 17, max: 64 })).map(([e, kb]): Request => ({
    category: 'oversized',
    service: e.service,
    method: e.method,
    path: e.path(f),
    key: operatorKey,
    body: { ...e.template(f), padding: 'x'.repeat(kb * 1024) },
  }));

  const mediaType = fc
    .tuple(
      bodyEndpoint,
      fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data', 'image/png'),
    )
    .map(([e, type]): Request => ({
      category: 'media-type',
      service: e.service,
      method: e.method,
      path: e.path(f),
      key: operatorKey,
      raw: JSON.stringify(e.template(f)),
      headers: { 'content-type': type },
    }));

  const header = fc
    .tuple(bodyEndpoint, fc.oneof(fc.string({ minLength: 129, maxLength: 400 }), fc.constantFrom('a b', 'é', '\t')))
    .filter(([, id]) => /^[\x20-\x7e\u00a0-\u00ff]*$/.test(id)) // what fetch can send in a header
    .map(([e, id]): Request => ({
      category: 'header',
      service: e.service,
      method: e.method,
      path: e.path(f),
      key: operatorKey,
      body: e.template(f),
      headers: { 'x-correlation-id': id },
    }));

  return fc.oneof(unauthenticated, wrongRole, crossTenant, malformed, wronglyTyped, oversized, mediaType, header);
}

// ---- the run ------------------------------------------------------------------------------------------

/** Prepares fixtures, digests the state, sends `requests` requests, digests again and reports. */
export async function fuzzHttp(target: FuzzTarget, options: HttpFuzzOptions): Promise<HttpFuzzReport> {
  for (const url of [target.pairing, target.licensing, target.syncAgent])
    if (!LOOPBACK.test(url)) throw new Error(`refusing to fuzz ${url}: loopback only`);
  const log = options.log ?? (() => undefined);
  const fixtures = await prepare(target);
  const before = await settledDigest(target);
  const requests = fc.sample(generator(fixtures, target.operatorKey), { numRuns: options.requests, seed: options.seed });

  const byClass: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  const byCategory = {} as Record<Category, number>;
  const failures: string[] = [];
  let fiveXx = 0;
  let acceptedChanges = 0;
  const stranger = new LoopbackClient(UNAUTHENTICATED_FROM, options.concurrency ?? 8);
  let next = 0;
  let done = 0;
  const step = Math.max(1, Math.floor(requests.length / 10));
  await Promise.all(
    Array.from({ length: options.concurrency ?? 8 }, async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        let status: number;
        try {
          ({ status } =
            r.category === 'unauthenticated'
              ? await stranger.request(`${target[r.service]}${r.path}`, { method: r.method, body: r.body, headers: r.headers })
              : await call(target[r.service], r.method, r.path, r.key, r.body, { raw: r.raw, headers: r.headers }));
        } catch (error) {
          status = 0;
          if (failures.length < 20) failures.push(`${r.method} ${r.path}: no answer (${(error as Error).message})`);
        }
        const cls = status === 0 ? 'no answer' : `${Math.floor(status / 100)}xx`;
        byClass[cls] = (byClass[cls] ?? 0) + 1;
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        byCategory[r.category] = (byCategory[r.category] ?? 0) + 1;
        const describe = `${r.category}: ${r.method} ${r.path.slice(0, 120)} → ${status}`;
        if (status >= 500) {
          fiveXx++;
          if (failures.length < 20) failures.push(describe);
        } else if (status >= 200 && status < 300 && r.method !== 'GET') {
          acceptedChanges++;
          if (failures.length < 20) failures.push(`accepted: ${describe}`);
        }
        if (++done % step === 0) log(`http fuzz: ${done}/${requests.length} requests, ${fiveXx} × 5xx`);
      }
    }),
  );
  stranger.close();
  const after = await stateDigest(target);
  return {
    sent: requests.length,
    byClass,
    byStatus,
    byCategory,
    failures,
    fiveXx,
    acceptedChanges,
    changedTables: differences(before, after),
  };
}
