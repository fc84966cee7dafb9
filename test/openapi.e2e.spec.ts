/**
 * docs/openapi/<service>.yaml (generated from the code, see test/contract-docs.spec.ts) against the running system:
 * - every route each service maps (read from Nest's start-up log) is in that service's document, and every documented
 *   operation is mapped by it;
 * - the documents are well formed for a client: operation ids, path parameters, strict request bodies, problems;
 * - real responses (successes and problems) conform to their documented schemas and codes.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { busNames, type EffectiveLicenseSetV1 } from '#shared/contracts';
import { EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER, deadLetterHeaders, deadLetterKey, signEvent } from '#shared';
import { sampleEvent, testEnvelope } from '#shared/testing';
import {
  DAY_MS,
  NATS_URL,
  REPO_ROOT,
  SERVICES,
  api,
  developmentSigningKey,
  eventually,
  fromNow,
  randomSerial,
  startSystem,
  type Api,
  type ApiResponse,
  type Json,
  type RunningSystem,
  type ServiceName,
} from './support/system.js';

jest.setTimeout(90_000);

const SYNC_TIMEOUT_MS = 15_000;

// ---- the document -------------------------------------------------------------------------------------

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  pattern?: string;
  format?: string;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  description?: string;
}
interface Server {
  url: string;
  description?: string;
}
interface MediaType {
  schema?: Schema;
}
interface ResponseObject {
  $ref?: string;
  description?: string;
  content?: Record<string, MediaType>;
}
interface Parameter {
  $ref?: string;
  name?: string;
  in?: string;
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  operationId?: string;
  servers?: Server[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, MediaType> };
  responses?: Record<string, ResponseObject>;
}
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type Method = (typeof METHODS)[number];
type PathItem = { servers?: Server[]; parameters?: Parameter[] } & Partial<Record<Method, Operation>>;
interface OpenApiDocument {
  openapi: string;
  info: { title?: string; version?: string };
  servers?: Server[];
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, Schema>;
    responses?: Record<string, ResponseObject>;
    parameters?: Record<string, Parameter>;
  };
}

// The core schema keeps plain YAML 1.2 scalars (no timestamps turned into Dates).
const DOCS = Object.fromEntries(
  (['pairing', 'licensing', 'sync-agent'] as const).map((service) => [
    service,
    parse(readFileSync(join(REPO_ROOT, 'docs', 'openapi', `${service}.yaml`), 'utf8'), { schema: 'core' }) as OpenApiDocument,
  ]),
) as Record<ServiceName, OpenApiDocument>;
/** The document the helpers below read (each check sets it to the service it is about). */
let doc: OpenApiDocument = DOCS.pairing;

/** The value a local reference (`#/a/b`) points at in the document, or undefined. */
function pointer(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function deref<T extends { $ref?: string }>(value: T): T {
  let current = value;
  for (let hops = 0; current.$ref !== undefined; hops++) {
    if (hops > 10) throw new Error(`reference loop at ${value.$ref}`);
    const target = pointer(current.$ref) as T | undefined;
    if (target === undefined) throw new Error(`unresolved reference ${current.$ref}`);
    current = target;
  }
  return current;
}

/** The operations of the document as `METHOD /path`, with their path item. */
function documentedOperations(): { method: Method; path: string; item: PathItem; operation: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m] !== undefined).map((method) => ({ method, path, item, operation: item[method]! })),
  );
}

// ---- a small JSON Schema (2020-12 subset) checker for real bodies --------------------------------------

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

/**
 * Every way `value` fails `schema`: types, required and undocumented properties, enums, consts, patterns,
 * formats (date-time, uuid, uri), array items and bounds, oneOf/anyOf/allOf and references.
 */
function violations(schema: Schema, value: unknown, at = '$'): string[] {
  const problems: string[] = [];
  if (schema.$ref !== undefined) {
    const { $ref, ...rest } = schema;
    return [...violations(deref({ $ref }), value, at), ...violations(rest, value, at)];
  }
  if (schema.allOf) for (const part of schema.allOf) problems.push(...violations(part, value, at));
  for (const [keyword, branches] of [
    ['oneOf', schema.oneOf],
    ['anyOf', schema.anyOf],
  ] as const) {
    if (!branches) continue;
    const results = branches.map((b) => violations(b, value, at));
    const passing = results.filter((r) => r.length === 0).length;
    if (keyword === 'oneOf' ? passing !== 1 : passing === 0)
      problems.push(`${at}: matches ${passing} of the ${keyword} branches (${results.map((r) => r.join(', ')).join(' | ')})`);
  }
  if (schema.const !== undefined && value !== schema.const)
    problems.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value))
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => hasType(value, t)))
      return [...problems, `${at}: is ${typeOf(value)}, documented ${types.join(' or ')}`];
  }
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
      problems.push(`${at}: "${value}" does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))))
      problems.push(`${at}: "${value}" is not a date-time`);
    if (schema.format === 'uuid' && !UUID.test(value)) problems.push(`${at}: "${value}" is not a UUID`);
    if (schema.format === 'uri' && !/^[a-z][a-z0-9+.-]*:/i.test(value)) problems.push(`${at}: "${value}" is not a URI`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: ${value} < ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: ${value} > ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problems.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((item, i) => problems.push(...violations(schema.items!, item, `${at}[${i}]`)));
  }
  if (typeOf(value) === 'object' && (schema.properties || schema.required)) {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? [])
      if (!Object.hasOwn(object, name)) problems.push(`${at}: required property "${name}" is missing`);
    for (const [name, propertyValue] of Object.entries(object)) {
      const property = schema.properties?.[name];
      if (property) problems.push(...violations(property, propertyValue, `${at}.${name}`));
      else if (schema.additionalProperties !== true) problems.push(`${at}: property "${name}" is not documented`);
    }
  }
  return problems;
}

// ---- the running system -------------------------------------------------------------------------------

let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;

beforeAll(async () => {
  // Nest's route mapping lines are printed at verbose only: they are how this test learns the mapped routes.
  system = await startSystem('openapi', { env: { LOG_LEVEL: 'verbose' } });
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
}, 60_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');
const MAPPED = /Mapped \{([^,}]+), ([A-Z]+)\}(?: \(version: [^)]*\))? route/g;

/** Every HTTP route a service mapped at start, as `{method, path}` with `{param}` templates. */
function mappedRoutes(service: ServiceName): { method: string; path: string }[] {
  const log = system.processes[service].log.replace(ANSI, '');
  return [...log.matchAll(MAPPED)].map((m) => ({
    method: m[2]!.toLowerCase(),
    path: m[1]!.replace(/:([A-Za-z0-9_]+)/g, '{$1}'),
  }));
}

// ---- checking real responses --------------------------------------------------------------------------

/** `METHOD path` of every documented operation whose success response a real one was checked against. */
const exercised = new Set<string>();

/**
 * Checks a real response against the documented response for its status (or `default`): the media type, the
 * body against the schema, and for a problem that its `code` is among those the response's description lists.
 */
function expectDocumented(method: Method, path: string, response: ApiResponse): void {
  doc = Object.values(DOCS).find((d) => d.paths[path]?.[method] !== undefined) ?? doc;
  const operation = doc.paths[path]?.[method];
  if (!operation) throw new Error(`${method.toUpperCase()} ${path} is not documented`);
  const entry = operation.responses?.[String(response.status)] ?? operation.responses?.default;
  const where = `${method.toUpperCase()} ${path} → ${response.status} ${JSON.stringify(response.body)}`;
  if (!entry) throw new Error(`${where}: the status is not documented`);
  const documented = deref(entry);
  const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const media = documented.content?.[mediaType];
  if (!media?.schema) throw new Error(`${where}: media type "${mediaType}" is not documented for this status`);
  expect({ where, violations: violations(media.schema, response.body) }).toEqual({ where, violations: [] });
  if (mediaType === 'application/problem+json') {
    const code = (response.body as { code?: string }).code;
    expect({ where, codeListed: (documented.description ?? '').includes(`\`${code}\``) }).toEqual({ where, codeListed: true });
  }
  if (response.status >= 200 && response.status < 300) exercised.add(`${method.toUpperCase()} ${path}`);
}

// ---- tests --------------------------------------------------------------------------------------------

describe('docs/openapi/<service>.yaml', () => {
  it.each(SERVICES.map((s) => s.name))(
    '%s: an OpenAPI 3.1 document whose references resolve and whose operations are well formed',
    (service) => {
      doc = DOCS[service];
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      expect(doc.info).toEqual(expect.objectContaining({ title: expect.any(String), version: expect.any(String) }));
      expect(doc.servers).toHaveLength(1);

      const unresolved: string[] = [];
      (function walk(node: unknown, at: string): void {
        if (typeof node !== 'object' || node === null) return;
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && (typeof value !== 'string' || pointer(value) === undefined))
            unresolved.push(`${at}: ${String(value)}`);
          else walk(value, `${at}/${key}`);
        }
      })(doc, '#');
      expect(unresolved).toEqual([]);

      const problems: string[] = [];
      const operationIds = new Set<string>();
      for (const { method, path, item, operation } of documentedOperations()) {
        const name = `${method.toUpperCase()} ${path}`;
        if (!operation.operationId || operationIds.has(operation.operationId))
          problems.push(`${name}: missing or duplicate operationId`);
        else operationIds.add(operation.operationId);
        if (item.servers || operation.servers) problems.push(`${name}: a servers override (the document has its one server)`);
        const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p) => deref(p));
        for (const [, template] of path.matchAll(/\{([^}]+)\}/g))
          if (!parameters.some((p) => p.in === 'path' && p.name === template && p.required === true))
            problems.push(`${name}: path parameter {${template}} is not declared (in: path, required)`);
        for (const p of parameters)
          if (p.in === 'path' && !path.includes(`{${p.name}}`))
            problems.push(`${name}: declares path parameter ${p.name} not in the path`);
        const body = operation.requestBody?.content?.['application/json']?.schema;
        if (operation.requestBody && (!body || deref(body).additionalProperties !== false))
          problems.push(`${name}: request body without an application/json schema with additionalProperties: false`);
        const responses = Object.entries(operation.responses ?? {});
        if (!responses.some(([status]) => /^2\d\d$/.test(status))) problems.push(`${name}: no success response`);
        for (const [status, response] of responses) {
          const resolved = deref(response);
          if (!resolved.description) problems.push(`${name} ${status}: no description`);
          const isError = status === 'default' || Number(status) >= 400;
          // /readyz and /health answer their own JSON report with 503, not a problem.
          const probe = path === '/readyz' || path === '/health';
          if (
            isError &&
            !probe &&
            resolved.content?.['application/problem+json']?.schema?.$ref !== '#/components/schemas/Problem'
          )
            problems.push(`${name} ${status}: not application/problem+json with the Problem schema`);
          if (isError && !probe && !/`[A-Z][A-Z_]+`/.test(resolved.description ?? ''))
            problems.push(`${name} ${status}: the description lists no error code`);
        }
      }
      expect(problems).toEqual([]);
      expect(deref(doc.components.schemas.Problem!).required).toEqual(['type', 'title', 'status', 'detail', 'code']);
    },
  );

  it.each(SERVICES.map((s) => s.name))('%s: documents every route it maps, and no route it does not map', (service) => {
    doc = DOCS[service];
    const mapped = mappedRoutes(service).map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    // Sanity: the log format was understood (every service maps /health and /metrics and its own routes).
    expect(mapped.length).toBeGreaterThan(2);
    const documented = documentedOperations().map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect(documented.sort()).toEqual([...mapped].sort());
  });

  it('describes real responses: the success bodies, and problems with their documented codes', async () => {
    const account = `acct-openapi-${randomSerial()}`;
    const register = async (serial = randomSerial()) => {
      const response = await pairing.post('/products', {
        serial,
        model: 'NSA 2700',
        firmwareVersion: '7.0.1',
        accountId: account,
      });
      expectDocumented('post', '/products', response);
      expect(response.status).toBe(201);
      return serial;
    };

    // pairing
    const primary = await register();
    const secondary = await register();
    const replacement = await register();
    expectDocumented('get', '/models', await pairing.get('/models'));
    expectDocumented('get', '/products/{serial}', await pairing.get(`/products/${primary}`));
    expectDocumented('patch', '/products/{serial}', await pairing.patch(`/products/${secondary}`, { firmwareVersion: '7.1.0' }));
    expectDocumented('get', '/products/{serial}/history', await pairing.get(`/products/${secondary}/history`));
    const associated = await pairing.post<Json>('/pairs', { primarySerial: primary, secondarySerial: secondary });
    expectDocumented('post', '/pairs', associated);
    const pairId = associated.body.pairId as string;
    expectDocumented('get', '/pairs/{pairId}', await pairing.get(`/pairs/${pairId}`));
    expectDocumented('get', '/products', await pairing.get(`/products?accountId=${encodeURIComponent(account)}&limit=2`));
    expectDocumented('get', '/pairs', await pairing.get(`/pairs?accountId=${encodeURIComponent(account)}&status=associated`));

    // licensing
    expectDocumented('get', '/catalog', await licensing.get('/catalog'));
    const granted = await licensing.post<Json>(`/products/${primary}/licenses`, {
      sku: 'GATEWAY_AV',
      expiresAt: fromNow(10 * DAY_MS),
    });
    expectDocumented('post', '/products/{serial}/licenses', granted);
    const licenseId = granted.body.licenseId as string;
    expectDocumented(
      'post',
      '/products/{serial}/licenses',
      await licensing.post(`/products/${primary}/licenses`, { sku: 'STATEFUL_SYNC' }),
    );
    const trial = await licensing.post<Json>(`/products/${secondary}/licenses`, {
      sku: 'IPS',
      trial: true,
      expiresAt: fromNow(5 * DAY_MS),
    });
    expectDocumented('post', '/products/{serial}/licenses', trial);
    expectDocumented(
      'post',
      '/licenses/{licenseId}/renewals',
      await licensing.post(`/licenses/${licenseId}/renewals`, { expiresAt: fromNow(20 * DAY_MS) }),
    );
    expectDocumented('get', '/licenses/{licenseId}', await licensing.get(`/licenses/${licenseId}`));
    expectDocumented('get', '/products/{serial}/licenses', await licensing.get(`/products/${primary}/licenses`));
    expectDocumented('get', '/licenses', await licensing.get(`/licenses?accountId=${encodeURIComponent(account)}&limit=1`));

    // sync agent, once it has seen the pair and the licenses
    const set = await eventually(
      async () => {
        const response = await syncAgent.get<EffectiveLicenseSetV1>(`/products/${secondary}/effective-licenses`);
        expect(response.status).toBe(200);
        expect(response.body.licenses.map((l) => l.sku)).toEqual(expect.arrayContaining(['GATEWAY_AV', 'IPS']));
        expect(response.body.statefulSync.enabled).toBe(true);
        return response;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 100, description: "the Secondary's set to include the Primary's licenses" },
    );
    expectDocumented('get', '/products/{serial}/effective-licenses', set);
    expectDocumented(
      'get',
      '/products/{serial}/effective-licenses',
      await syncAgent.get(`/products/${primary}/effective-licenses`),
    );
    expectDocumented(
      'get',
      '/products/{serial}/effective-licenses',
      await syncAgent.get(`/products/${secondary}/effective-licenses?at=${encodeURIComponent(new Date().toISOString())}`),
    );
    expectDocumented(
      'get',
      '/products/{serial}/effective-licenses/history',
      await syncAgent.get(`/products/${secondary}/effective-licenses/history?limit=2`),
    );
    expectDocumented(
      'get',
      '/products/{serial}/license-document',
      await syncAgent.get(`/products/${secondary}/license-document`),
    );
    expectDocumented('get', '/.well-known/license-signing-keys', await syncAgent.get('/.well-known/license-signing-keys'));
    for (const service of [pairing, licensing, syncAgent])
      expectDocumented('get', '/.well-known/event-signing-keys', await service.get('/.well-known/event-signing-keys'));
    expectDocumented('get', '/pairs/{pairId}/failover-readiness', await syncAgent.get(`/pairs/${pairId}/failover-readiness`));
    expectDocumented('get', '/pairs/readiness', await syncAgent.get(`/pairs/readiness?accountId=${encodeURIComponent(account)}`));
    expectDocumented('get', '/me', await syncAgent.get('/me'));

    // replacement, revocation, dissociation (and the replaced pair, with replacedBy)
    const replaced = await pairing.post<Json>(`/pairs/${pairId}/replacements`, {
      failedSerial: secondary,
      replacementSerial: replacement,
    });
    expectDocumented('post', '/pairs/{pairId}/replacements', replaced);
    expectDocumented('get', '/pairs/{pairId}', await pairing.get(`/pairs/${pairId}`));
    expectDocumented('get', '/pairs/{pairId}', await pairing.get(`/pairs/${replaced.body.pairId as string}`));
    expectDocumented('delete', '/licenses/{licenseId}', await licensing.delete(`/licenses/${licenseId}`));
    expectDocumented('get', '/licenses/{licenseId}/history', await licensing.get(`/licenses/${licenseId}/history`));
    expectDocumented('delete', '/pairs/{pairId}', await pairing.delete(`/pairs/${replaced.body.pairId as string}`));
    expectDocumented('get', '/pairs/{pairId}/history', await pairing.get(`/pairs/${pairId}/history`));
    expectDocumented('get', '/pairs/{pairId}/history', await pairing.get(`/pairs/${replaced.body.pairId as string}/history`));

    // API keys
    const createdKey = await pairing.post<Json>('/api-keys', { name: 'openapi reader', role: 'reader', accountId: account });
    expectDocumented('post', '/api-keys', createdKey);
    expectDocumented('get', '/api-keys', await pairing.get('/api-keys'));
    const readerKey = createdKey.body.apiKey as string;
    const asReader = { pairing: api(system.pairing, readerKey), licensing: api(system.licensing, readerKey) };
    const unauthenticated = api(system.syncAgent, null);

    // operations
    for (const service of [pairing, licensing, syncAgent]) {
      expectDocumented('get', '/livez', await service.get('/livez'));
      expectDocumented('get', '/readyz', await service.get('/readyz'));
      expectDocumented('get', '/health', await service.get('/health'));
      expectDocumented('get', '/metrics', await service.get('/metrics'));
    }

    // dead letters: a poison message (still poison on replay) and a letter an older deployment left (replayable)
    const names = busNames(system.namespace);
    const nc = await connect({ servers: NATS_URL });
    try {
      const js = jetstream(nc);
      await js.publish(`${names.subjectsOfType('ProductsAssociated').slice(0, -1)}${randomSerial()}`, 'not json');
      const fixedSerial = randomSerial();
      const fixed = testEnvelope(sampleEvent('ProductRegistered', { serial: fixedSerial }), {
        streamId: `product-${fixedSerial}`,
      });
      const signed = signEvent(fixed, names.subjectOf(fixed), developmentSigningKey('pairing'));
      await js.publish(names.deadLetterSubject('sync-agent'), signed.body, {
        msgID: deadLetterKey(names.stream('pairing'), 999_999, 'sync-agent'),
        headers: deadLetterHeaders({
          reason: 'UNSUPPORTED_SCHEMA_VERSION',
          detail: 'unsupported schema version 1 of ProductRegistered',
          consumer: 'sync-agent',
          stream: names.stream('pairing'),
          streamSequence: 999_999,
          subject: names.subjectOf(fixed),
          deliveries: 1,
          headers: { [EVENT_KEY_ID_HEADER]: [signed.keyId], [EVENT_SIGNATURE_HEADER]: [signed.signature] },
          deadLetteredAt: new Date().toISOString(),
        }),
      });
    } finally {
      await nc.close();
    }
    const letters = await eventually(
      async () => {
        const response = await syncAgent.get<Json>('/dead-letters');
        return response.body.items?.length === 2 && response;
      },
      { timeoutMs: SYNC_TIMEOUT_MS, description: 'both dead letters listed by the sync agent' },
    );
    expectDocumented('get', '/dead-letters', letters);
    expectDocumented('get', '/dead-letters', await licensing.get('/dead-letters?reason=MALFORMED_JSON&limit=10'));
    const byReason = (reason: string) => (letters.body.items as Json[]).find((l) => l.reason === reason).id as number;
    expectDocumented(
      'post',
      '/dead-letters/{id}/replay',
      await syncAgent.post(`/dead-letters/${byReason('UNSUPPORTED_SCHEMA_VERSION')}/replay`),
    );

    // problems: each must be documented for its status, with its code listed
    const unknownSerial = randomSerial();
    const unknownId = '7b0d4c8e-0000-4000-8000-000000000000';
    const problems: [Method, string, ApiResponse, number][] = [
      [
        'post',
        '/products',
        await pairing.post('/products', { serial: primary, model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: account }),
        409,
      ],
      [
        'post',
        '/products',
        await pairing.post('/products', { serial: randomSerial(), model: 'XYZ 1', firmwareVersion: '7.0.1', accountId: account }),
        400,
      ],
      ['post', '/products', await pairing.post('/products', { serial: 'nope' }), 400],
      ['get', '/products/{serial}', await pairing.get(`/products/${unknownSerial}`), 404],
      ['get', '/products/{serial}/history', await pairing.get(`/products/${unknownSerial}/history`), 404],
      ['get', '/products/{serial}', await pairing.get('/products/not-a-serial'), 400],
      ['post', '/pairs', await pairing.post('/pairs', { primarySerial: primary, secondarySerial: primary }), 409],
      ['delete', '/pairs/{pairId}', await pairing.delete(`/pairs/${pairId}`), 409],
      ['get', '/pairs/{pairId}', await pairing.get(`/pairs/${unknownId}`), 404],
      ['get', '/pairs/{pairId}/history', await pairing.get(`/pairs/${unknownId}/history`), 404],
      ['post', '/products/{serial}/licenses', await licensing.post(`/products/${primary}/licenses`, { sku: 'NO_SUCH_SKU' }), 400],
      ['post', '/products/{serial}/licenses', await licensing.post(`/products/${unknownSerial}/licenses`, { sku: 'IPS' }), 404],
      ['get', '/products/{serial}/licenses', await licensing.get(`/products/${unknownSerial}/licenses`), 404],
      ['delete', '/licenses/{licenseId}', await licensing.delete(`/licenses/${licenseId}`), 409],
      ['get', '/licenses/{licenseId}', await licensing.get(`/licenses/${unknownId}`), 404],
      ['get', '/products/{serial}/effective-licenses', await syncAgent.get(`/products/${unknownSerial}/effective-licenses`), 404],
      [
        'get',
        '/products/{serial}/effective-licenses',
        await syncAgent.get(`/products/${primary}/effective-licenses?at=yesterday`),
        400,
      ],
      ['get', '/pairs/{pairId}/failover-readiness', await syncAgent.get(`/pairs/${unknownId}/failover-readiness`), 404],
      ['delete', '/api-keys/{keyId}', await pairing.delete(`/api-keys/${unknownId}`), 404],
      ['get', '/pairs/readiness', await syncAgent.get('/pairs/readiness?limit=0'), 400],
      // authentication, roles, media types and sizes
      ['get', '/products/{serial}/effective-licenses', await unauthenticated.get(`/products/${primary}/effective-licenses`), 401],
      ['get', '/metrics', await unauthenticated.get('/metrics'), 401],
      [
        'post',
        '/products/{serial}/licenses',
        await asReader.licensing.post(`/products/${primary}/licenses`, { sku: 'IPS' }),
        403,
      ],
      ['get', '/api-keys', await asReader.pairing.get('/api-keys'), 403],
      [
        'post',
        '/products',
        await pairing.request('POST', '/products', 'serial=1', { 'content-type': 'application/x-www-form-urlencoded' }),
        415,
      ],
      ['post', '/pairs', await pairing.post('/pairs', { primarySerial: primary, padding: 'x'.repeat(20_000) }), 413],
      ['get', '/dead-letters', await syncAgent.get('/dead-letters?limit=0'), 400],
      ['post', '/dead-letters/{id}/replay', await syncAgent.post(`/dead-letters/${byReason('MALFORMED_JSON')}/replay`), 422],
      [
        'post',
        '/dead-letters/{id}/replay',
        await syncAgent.post(`/dead-letters/${byReason('UNSUPPORTED_SCHEMA_VERSION')}/replay`),
        409,
      ],
      ['post', '/dead-letters/{id}/replay', await syncAgent.post('/dead-letters/987654321/replay'), 404],
    ];
    for (const [method, path, response, status] of problems) {
      expect({ request: `${method.toUpperCase()} ${path}`, status: response.status }).toEqual({
        request: `${method.toUpperCase()} ${path}`,
        status,
      });
      expectDocumented(method, path, response);
    }
    expectDocumented('delete', '/api-keys/{keyId}', await pairing.delete(`/api-keys/${createdKey.body.keyId as string}`));
  });

  it('had a real success response checked for every documented operation', () => {
    const unchecked = Object.values(DOCS).flatMap((d) => {
      doc = d;
      return documentedOperations()
        .map(({ method, path }) => `${method.toUpperCase()} ${path}`)
        .filter((name) => !exercised.has(name));
    });
    expect(unchecked).toEqual([]);
  });
});
