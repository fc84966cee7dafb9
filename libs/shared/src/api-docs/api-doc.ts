import { z } from 'zod';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../messaging/decode-event.js';
import { EventSigningKeySetV1 } from '../contracts/index.js';
import { DeadLetterId, DeadLetterListQuery } from '../dead-letters/dead-letters.controller.js';
import type { DeadLetterPage, DeadLetterView } from '../dead-letters/dead-letter-index.js';
import type { HealthReport } from '../runtime/health.module.js';

/**
 * What the published HTTP documentation (docs/openapi/<service>.yaml, `npm run docs:contracts`) says of each route,
 * beside the code: the route itself (method, path, status, roles, public) is read from the controllers' decorators,
 * and what a route reads and answers is a zod schema the code validates with or returns. Nothing is written twice:
 * a route without its OperationDoc, or an OperationDoc without its route, stops the generation.
 */

/** How one route is documented. Keyed by `METHOD /path` (Nest's path with `{param}` templates). */
export interface OperationDoc {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  /** Path parameters by name, as the route's pipe validates them. */
  readonly params?: Readonly<Record<string, z.ZodType>>;
  /** The query, as the route's pipe validates it (a zod object). */
  readonly query?: z.ZodObject;
  /** The JSON body, as the route validates it. */
  readonly body?: z.ZodType;
  /** Whether an `X-Correlation-Id` header is recorded on the events the request appends. */
  readonly correlationId?: boolean;
  /** The success answer (its status is the route's): what it is and its body (text/plain when `text`). */
  readonly success: { readonly description: string; readonly schema?: z.ZodType; readonly text?: boolean };
  /**
   * Error answers beyond those every route has (401, 403, 429, 503, and 413/415 with a body), by status, each the
   * list of its codes with when (rendered into the response's description, where a client reads the codes).
   */
  readonly errors?: Readonly<Record<number, string>>;
}

/** One service's documentation: its HTTP operations and the schemas worth a name of their own. */
export interface ServiceApiDoc {
  readonly service: 'pairing' | 'licensing' | 'sync-agent';
  readonly title: string;
  readonly description: string;
  readonly defaultPort: number;
  readonly operations: Readonly<Record<string, OperationDoc>>;
}

/** Schemas that get a component name of their own, wherever they appear; [schema, name]. */
export type NamedSchemas = readonly (readonly [z.ZodType, string])[];

/** An instant as the services answer it. */
export const UtcInstant = z.string().meta({ format: 'date-time', description: 'ISO-8601, UTC.' });

/** One field's reason a request was refused (VALIDATION_FAILED). */
export const FieldErrorSchema = z.object({
  field: z.string().meta({ description: 'The failing field, e.g. `serial`, `expiresAt`, `at`; `(body)` for a malformed body.' }),
  message: z.string(),
});

/** Every error answer: an RFC 9457 problem document with a stable code. */
export const ProblemSchema = z
  .object({
    type: z.string().meta({ description: '`https://ha-license-sync.dev/problems/<code in kebab case>`.', format: 'uri' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().meta({ description: 'Stable; never renamed.' }),
    errors: z.array(FieldErrorSchema).optional().meta({ description: 'Only for `VALIDATION_FAILED`.' }),
  })
  .meta({ description: 'An RFC 9457 problem document with a stable `code`.' });

/** GET /livez of every service. */
export const LivenessSchema = z.object({
  service: z.enum(['pairing', 'licensing', 'sync-agent']),
  status: z.literal('ok'),
});

/** GET /readyz (and /health) of every service. */
export const HealthSchema = z.object({
  service: z.enum(['pairing', 'licensing', 'sync-agent']),
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ postgres: z.enum(['up', 'down']), nats: z.enum(['up', 'down']), started: z.boolean() }),
});

export const DeadLetterSchema = z.object({
  id: z.number().int().positive(),
  consumer: z.string().meta({ description: 'The durable consumer that gave up on the message.' }),
  reason: z.enum(DEAD_LETTER_REASONS as [DeadLetterReason, ...DeadLetterReason[]]),
  detail: z.string().meta({ description: 'What failed (the schema issues, or the last delivery’s error).' }),
  stream: z.string().meta({ description: "The original message's stream." }),
  streamSequence: z.number().int().positive(),
  subject: z.string().meta({ description: "The original message's subject." }),
  deliveries: z.number().int().min(0).meta({ description: 'How many times it had been delivered.' }),
  headers: z.record(z.string(), z.array(z.string())).meta({ description: "The original message's NATS headers, name → values." }),
  body: z.string().meta({ description: 'The original bytes as UTF-8 text.' }),
  bodyBase64: z.string().meta({ description: 'The original bytes, exactly.' }),
  deadLetteredAt: z.string().meta({ format: 'date-time' }),
  replayedAt: z.string().meta({ format: 'date-time' }).nullable(),
});

export const DeadLetterPageSchema = z.object({
  items: z.array(DeadLetterSchema),
  nextBefore: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'Pass as `before` for the next (older) page; null on the last page.' }),
});

/** 400 `VALIDATION_FAILED` naming what of the request may be malformed, then the codes of the rules that refuse it. */
function badRequest(params: Readonly<Record<string, z.ZodType>>, alsoInvalid: readonly string[], refusals?: string): string {
  const invalid = [...Object.keys(params).map((name) => `\`${name}\``), ...alsoInvalid];
  return `\`VALIDATION_FAILED\` (${invalid.join(', ')})${refusals ? `, ${refusals}` : ''}.`;
}

/**
 * A route that reads one thing named by its path: its parameters, and the errors every such route has, 400
 * `VALIDATION_FAILED` naming the parameters (then `alsoInvalid`: what else of the request may be malformed) and 404
 * with the thing's not-found code (so the two cannot drift apart).
 */
export function lookup(
  params: Readonly<Record<string, z.ZodType>>,
  notFoundCode: string,
  alsoInvalid: readonly string[] = [],
): Pick<OperationDoc, 'params' | 'errors'> {
  return { params, errors: { 400: badRequest(params, alsoInvalid), 404: `\`${notFoundCode}\`.` } };
}

/** What a change of one thing may be refused for, beyond a malformed request and an unknown thing. */
export interface ChangeRefusals {
  /** The codes of the rules that refuse a well-formed request (400). */
  readonly invalid?: string;
  /** The codes of the thing's state refusing the change (409). */
  readonly conflicts?: string;
  /** Any other answers by status, each in place of what the change would say for it. */
  readonly otherwise?: Readonly<Record<number, string>>;
}

/**
 * A route that changes one thing named by its path: the lookup's parameters and errors (with the body among what may
 * be malformed), the body, the correlation id it records on its events, and its refusals.
 */
export function change(
  params: Readonly<Record<string, z.ZodType>>,
  notFoundCode: string,
  body: z.ZodType | undefined,
  refusals: ChangeRefusals = {},
): Pick<OperationDoc, 'params' | 'body' | 'correlationId' | 'errors'> {
  const errors: Record<number, string> = {
    400: badRequest(params, body ? ['body'] : [], refusals.invalid),
    404: `\`${notFoundCode}\`.`,
  };
  if (refusals.conflicts) errors[409] = `${refusals.conflicts}.`;
  return { params, ...(body && { body }), correlationId: true, errors: { ...errors, ...refusals.otherwise } };
}

/**
 * A list a page at a time (keyset cursors, an account filter): its query, its page, and its errors, 400 for
 * `badValues` (what else of the query may be malformed beside an unknown filter and a foreign cursor), 403 for
 * another account's key.
 */
export function pagedList(
  query: z.ZodObject,
  page: { readonly of: string; readonly schema: z.ZodType },
  badValues: string,
): Pick<OperationDoc, 'query' | 'success' | 'errors'> {
  return {
    query,
    success: { description: `A page of ${page.of}.`, schema: page.schema },
    errors: {
      400: `\`VALIDATION_FAILED\` (query: an unknown filter, ${badValues}, or a \`cursor\` this list did not make).`,
      403: '`FORBIDDEN` (an account-scoped key naming another account).',
    },
  };
}

const NOT_READY = 'Starting, or PostgreSQL or NATS is unavailable (`status` is `unavailable`; `checks` says which).';

/** The operations every service has: the probes, metrics and its event-signing keys. */
export const COMMON_OPERATIONS: Readonly<Record<string, OperationDoc>> = {
  'GET /livez': {
    operationId: 'getLiveness',
    summary: 'Whether the process answers (liveness probe)',
    description:
      'Always open (no readiness guard). 200 whenever the process answers; it checks no dependency, so an outage of ' +
      'PostgreSQL or NATS never fails it (that is /readyz). Use it for liveness probes and /readyz for readiness.',
    success: { description: 'The process is up.', schema: LivenessSchema },
  },
  'GET /readyz': {
    operationId: 'getReadiness',
    summary: 'Whether the service is connected and ready (readiness probe)',
    description: 'Always open (no readiness guard). 200 once PostgreSQL and NATS are connected and the service has started.',
    success: { description: 'Ready.', schema: HealthSchema },
    errors: { 503: NOT_READY },
  },
  'GET /health': {
    operationId: 'getHealth',
    summary: 'Whether the service is connected and ready (the older name of /readyz)',
    description: 'The same as /readyz, kept for the clients that use this name. Always open (no readiness guard).',
    success: { description: 'Ready.', schema: HealthSchema },
    errors: { 503: NOT_READY },
  },
  'GET /metrics': {
    operationId: 'getMetrics',
    summary: 'Prometheus metrics',
    description: 'Always open (no readiness guard); Prometheus text exposition format 0.0.4.',
    success: { description: 'The metrics of the service.', text: true },
  },
  'GET /.well-known/event-signing-keys': {
    operationId: 'getEventSigningKeys',
    summary: "The public keys of this service's events (JWK Set)",
    description:
      'Every Ed25519 key whose events may still be on the service’s stream, as RFC 8037 JWKs. An event’s `Event-Key-Id` ' +
      'header is the `kid` of the key that signed it; `Event-Signature` is the base64 Ed25519 signature of the exact ' +
      'message body. Cache for at most five minutes: a key added for a rotation is published before it signs.',
    success: { description: 'The JWK Set.', schema: EventSigningKeySetV1 },
  },
};

/** The dead-letter operations of a consuming service. */
export const DEAD_LETTER_OPERATIONS: Readonly<Record<string, OperationDoc>> = {
  'GET /dead-letters': {
    operationId: 'listDeadLetters',
    summary: "The messages this service's consumers gave up on, newest first",
    query: DeadLetterListQuery,
    success: { description: 'A page of dead letters.', schema: DeadLetterPageSchema },
    errors: { 400: '`VALIDATION_FAILED` (query).' },
  },
  'POST /dead-letters/{id}/replay': {
    operationId: 'replayDeadLetter',
    summary: "Apply a dead letter through the consumer's own decoder (signature included) and handler",
    params: { id: DeadLetterId },
    success: { description: 'The letter, with `replayedAt`; no longer listed.', schema: DeadLetterSchema },
    errors: {
      400: '`VALIDATION_FAILED` (`id`).',
      404: '`DEAD_LETTER_NOT_FOUND`.',
      409: '`DEAD_LETTER_ALREADY_REPLAYED`.',
      422: '`DEAD_LETTER_STILL_INVALID` (still not an acceptable event, e.g. its signature), `DEAD_LETTER_REPLAY_FAILED` (the handler failed); it stays listed.',
    },
  },
};

/** Deep structural equality of two types up to `readonly`: `true` or a compile error where used. */
type DeepMutable<T> = T extends readonly (infer U)[]
  ? DeepMutable<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: DeepMutable<T[K]> }
    : T;
export type SameShape<A, B> = [DeepMutable<A>] extends [DeepMutable<B>]
  ? [DeepMutable<B>] extends [DeepMutable<A>]
    ? true
    : false
  : false;

/**
 * A compile-time check that a documented schema describes exactly what the code returns:
 * `sameShape<SameShape<z.output<typeof ProductSchema>, ProductView>>()` fails to compile when they drift.
 */
export function sameShape<T extends true>(): T | undefined {
  return undefined;
}

sameShape<SameShape<z.output<typeof DeadLetterSchema>, DeadLetterView>>();
sameShape<SameShape<z.output<typeof DeadLetterPageSchema>, DeadLetterPage>>();
sameShape<SameShape<Omit<z.output<typeof HealthSchema>, 'service'>, HealthReport>>();
