import 'reflect-metadata';
import { RequestMethod, type DynamicModule, type Type } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import type { z } from 'zod';
import {
  EventSigningJwkV1,
  EventSigningKeySetV1,
  DeadLetterPageSchema,
  DeadLetterSchema,
  FieldErrorSchema,
  HealthController,
  HealthSchema,
  LivenessSchema,
  ProblemSchema,
  Serial,
  type NamedSchemas,
  type OperationDoc,
  type ServiceApiDoc,
} from '#shared';
import { SchemaBook, type JsonSchema } from './json-schemas.js';

/** A route as the controllers' decorators declare it. */
export interface Route {
  readonly key: string; // `METHOD /path` with {param} templates
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly isPublic: boolean;
  readonly roles: readonly string[];
}

/** Every HTTP route of a service: its module's controllers (and imports'), plus the probes and metrics every service has. */
export function routesOf(module: Type | DynamicModule): Route[] {
  const controllers = new Set<Type>([HealthController]);
  const visit = (m: Type | DynamicModule, seen = new Set<unknown>()): void => {
    if (seen.has(m)) return;
    seen.add(m);
    const dynamic = 'module' in m ? m : undefined;
    const cls = dynamic ? dynamic.module : (m as Type);
    const meta = <T>(key: string) => (Reflect.getMetadata(key, cls) as T[] | undefined) ?? [];
    for (const c of [...meta<Type>(MODULE_METADATA.CONTROLLERS), ...(dynamic?.controllers ?? [])]) controllers.add(c);
    for (const i of [...meta<Type>(MODULE_METADATA.IMPORTS), ...((dynamic?.imports ?? []) as Type[])]) visit(i, seen);
  };
  visit(module);
  const routes: Route[] = [];
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = Object.getOwnPropertyDescriptor(controller.prototype, name)?.value as object | undefined;
      const method = handler && (Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined);
      if (handler === undefined || method === undefined) continue;
      const path = `/${[base, String(Reflect.getMetadata(PATH_METADATA, handler) ?? '')]
        .map((p) => p.replace(/^\/+|\/+$/g, ''))
        .filter(Boolean)
        .join('/')}`.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const verb = RequestMethod[method];
      const meta = <T>(key: string) =>
        (Reflect.getMetadata(key, handler) ?? Reflect.getMetadata(key, controller)) as T | undefined;
      routes.push({
        key: `${verb} ${path}`,
        method: verb.toLowerCase(),
        path,
        status: meta<number>(HTTP_CODE_METADATA) ?? (method === RequestMethod.POST ? 201 : 200),
        isPublic: meta<boolean>('auth:public') === true,
        roles: meta<string[]>('auth:roles') ?? ['operator'],
      });
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** Schemas every service's document names. */
export const COMMON_SCHEMAS: NamedSchemas = [
  [Serial, 'Serial'],
  [ProblemSchema, 'Problem'],
  [FieldErrorSchema, 'FieldError'],
  [HealthSchema, 'Health'],
  [LivenessSchema, 'Liveness'],
  [DeadLetterSchema, 'DeadLetter'],
  [DeadLetterPageSchema, 'DeadLetterPage'],
  [EventSigningKeySetV1, 'EventSigningKeySetV1'],
  [EventSigningJwkV1, 'EventSigningJwkV1'],
];

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const COMMON_RESPONSES = {
  Unauthenticated: {
    ...problem('`UNAUTHENTICATED` (no `Authorization: Bearer <api key>`, or not an active key; `WWW-Authenticate: Bearer`).'),
    headers: { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer' } } },
  },
  Forbidden: problem(
    "`FORBIDDEN` (the key's role may not do this, e.g. a reader or auditor writing, or an account-scoped key naming another account).",
  ),
  RateLimited: {
    ...problem('`RATE_LIMITED` (more than `RATE_LIMIT_PER_MINUTE` requests of this key to this service in a minute).'),
    headers: { 'Retry-After': { description: 'Seconds until the key may call again.', schema: { type: 'integer' } } },
  },
  ServiceUnavailable: problem(
    '`SERVICE_UNAVAILABLE` (the service is starting, or PostgreSQL or NATS is unavailable; retry shortly).',
  ),
  PayloadTooLarge: problem('`PAYLOAD_TOO_LARGE` (the body is over 16 KB; nothing was read or written).'),
  UnsupportedMediaType: problem('`UNSUPPORTED_MEDIA_TYPE` (the body is not `application/json`).'),
  UnexpectedProblem: problem('`INTERNAL_ERROR` (500, logged without a stack trace, SQL or secret), `ROUTE_NOT_FOUND` (404).'),
};

/** Paths open before the service is ready (no 503 from the readiness guard). */
const ALWAYS_OPEN = new Set(['/livez', '/readyz', '/health', '/metrics']);

/** The probes, which answer their own JSON report (never a problem), 503 included. */
const PROBES = new Set(['/livez', '/readyz', '/health']);

const PORT_VARIABLES = { pairing: 'PAIRING_PORT', licensing: 'LICENSING_PORT', 'sync-agent': 'SYNC_AGENT_PORT' } as const;

/** The OpenAPI 3.1 document of one service, from its routes and its OperationDocs. */
export function openApiDocument(
  api: ServiceApiDoc,
  named: NamedSchemas,
  module: Type | DynamicModule,
  version: string,
): JsonSchema {
  const routes = routesOf(module);
  const documented = new Set(Object.keys(api.operations));
  const undocumented = routes.filter((r) => !documented.has(r.key)).map((r) => r.key);
  const unrouted = [...documented].filter((key) => !routes.some((r) => r.key === key));
  if (undocumented.length || unrouted.length)
    throw new Error(
      `${api.service}: routes without an OperationDoc: ${undocumented.join(', ') || 'none'}; OperationDocs without a route: ${unrouted.join(', ') || 'none'}`,
    );
  const book = new SchemaBook([...COMMON_SCHEMAS, ...named], 'draft-2020-12', '#/components/schemas/');
  book.schemaOf(ProblemSchema, 'output'); // every error answer refers to it
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const doc = api.operations[route.key]!;
    (paths[route.path] ??= {})[route.method] = operation(route, doc, book);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: api.title,
      version,
      description:
        `${api.description}\n\n` +
        'Every error is `application/problem+json` (RFC 9457) with a stable `code`; a rejected request changes nothing. ' +
        'Every endpoint but the probes (`/livez`, `/readyz`, `/health`) and the `/.well-known/` keys needs ' +
        '`Authorization: Bearer <api key>`; each ' +
        'operation lists the roles that may call it. Account-scoped keys (account-admin, reader) see only their account: ' +
        "another account's resource answers 404 exactly like an unknown id. Events: docs/asyncapi.yaml.",
    },
    servers: [
      {
        url: `http://127.0.0.1:${api.defaultPort}`,
        description: `${api.service} (port ${PORT_VARIABLES[api.service]}, default ${api.defaultPort})`,
      },
    ],
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API key `hlsk_<43 base64url characters>`, created by an operator with `POST /api-keys` on pairing or ' +
            '`npm run api-keys -- create`, or the bootstrap operator key `OPERATOR_API_KEY`.',
        },
      },
      parameters: {
        CorrelationId: {
          name: 'X-Correlation-Id',
          in: 'header',
          required: false,
          description:
            'Recorded as `metadata.correlationId` of the events the request appends (at most 128 printable characters).',
          schema: { type: 'string', maxLength: 128 },
        },
      },
      responses: COMMON_RESPONSES,
      schemas: Object.fromEntries(Object.entries(book.components).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}

function operation(route: Route, doc: OperationDoc, book: SchemaBook): JsonSchema {
  const access = route.isPublic
    ? 'Public: no API key.'
    : `Roles: ${route.roles.map((r) => `\`${r}\``).join(', ')}${route.roles.includes('auditor') ? ' (auditor: every account, read only)' : ''}.`;
  const parameters: JsonSchema[] = [];
  for (const [name, schema] of Object.entries(doc.params ?? {}))
    parameters.push({ name, in: 'path', required: true, schema: book.schemaOf(schema, 'input') });
  const shape: Record<string, z.ZodType> = doc.query?.shape ?? {};
  for (const [name, schema] of Object.entries(shape)) {
    const { description, ...rest } = book.schemaOf(schema, 'input');
    parameters.push({
      name,
      in: 'query',
      required: !schema.safeParse(undefined).success,
      ...(description === undefined ? {} : { description }),
      schema: rest,
    });
  }
  if (doc.correlationId) parameters.push({ $ref: '#/components/parameters/CorrelationId' });

  const responses: Record<string, unknown> = {
    [String(route.status)]: {
      description: doc.success.description,
      content: doc.success.text
        ? { 'text/plain': { schema: { type: 'string' } } }
        : { 'application/json': { schema: doc.success.schema ? book.schemaOf(doc.success.schema, 'output') : {} } },
    },
  };
  for (const [status, description] of Object.entries(doc.errors ?? {}))
    responses[status] = PROBES.has(route.path)
      ? { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } }
      : problem(description);
  const common = (status: number, name: keyof typeof COMMON_RESPONSES) =>
    (responses[String(status)] ??= { $ref: `#/components/responses/${name}` });
  if (!route.isPublic) {
    common(401, 'Unauthenticated');
    common(403, 'Forbidden');
    common(429, 'RateLimited');
  }
  if (!ALWAYS_OPEN.has(route.path)) common(503, 'ServiceUnavailable');
  if (doc.body) {
    common(413, 'PayloadTooLarge');
    common(415, 'UnsupportedMediaType');
  }
  if (!PROBES.has(route.path)) responses.default = { $ref: '#/components/responses/UnexpectedProblem' };

  return {
    operationId: doc.operationId,
    summary: doc.summary,
    description: [doc.description, access].filter(Boolean).join('\n\n'),
    ...(route.isPublic ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(doc.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: book.schemaOf(doc.body, 'input') } } } }
      : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b))),
  };
}
