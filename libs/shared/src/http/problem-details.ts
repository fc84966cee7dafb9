import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { RuleViolation, type RuleViolationKind } from '../contracts/index.js';
import { isTransientDatabaseError } from '../database/postgres.js';
import { DependencyUnavailableError } from '../messaging/request-reply.js';
import { redactSecrets } from '../auth/api-keys.js';

/** The largest JSON body accepted (413 PAYLOAD_TOO_LARGE above it). */
export const MAX_BODY_BYTES = 16 * 1024;

/** A field that failed validation, as reported in a 400 problem. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** The request body, path or query failed validation; answered 400 VALIDATION_FAILED with the fields. */
export class ValidationFailedError extends Error {
  constructor(readonly errors: readonly FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'ValidationFailedError';
  }
}

/** An RFC 9457 problem document, with our stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: readonly FieldError[];
}

const STATUS_OF: Record<RuleViolationKind, number> = { invalid: 400, 'not-found': 404, conflict: 409 };
const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function problem(status: number, code: string, detail: string, errors?: readonly FieldError[]): Problem {
  return {
    type: `https://ha-license-sync.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? HttpStatus[status] ?? 'Error',
    status,
    detail,
    code,
    ...(errors ? { errors } : {}),
  };
}

/** Turns any error into a problem document; never leaks a stack trace or SQL. */
export function toProblem(error: unknown): Problem {
  if (error instanceof RuleViolation) return problem(STATUS_OF[error.kind], error.code, error.message);
  if (error instanceof ValidationFailedError) return problem(400, 'VALIDATION_FAILED', 'The request is not valid.', error.errors);
  if (error instanceof DependencyUnavailableError) return problem(503, 'DEPENDENCY_UNAVAILABLE', error.message);
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const body = error.getResponse() as { code?: string; message?: unknown } | string;
    if (typeof body === 'object' && body.code)
      return problem(status, body.code, typeof body.message === 'string' ? body.message : error.message);
    if (status === 404) return problem(404, 'ROUTE_NOT_FOUND', error.message);
    // Nest reports a malformed JSON body as a plain 400.
    if (status === 400)
      return problem(400, 'VALIDATION_FAILED', `The request body is not valid: ${error.message}`, [
        { field: '(body)', message: error.message },
      ]);
    return problem(status, HttpStatus[status] ?? 'HTTP_ERROR', error.message);
  }
  // Express's body parser reports malformed JSON and oversize bodies with a `type` and a status.
  const parserError = error as { type?: string; status?: number };
  if (parserError.type === 'entity.parse.failed') {
    return problem(400, 'VALIDATION_FAILED', 'The request body is not valid JSON.', [
      { field: '(body)', message: 'not valid JSON' },
    ]);
  }
  if (parserError.type === 'entity.too.large')
    return problem(413, 'PAYLOAD_TOO_LARGE', `The request body is too large (at most ${MAX_BODY_BYTES / 1024} KB).`);
  // Any other body-parser refusal (bad charset or encoding, aborted body) is the client's.
  if (
    typeof parserError.type === 'string' &&
    parserError.status !== undefined &&
    parserError.status >= 400 &&
    parserError.status < 500
  )
    return problem(400, 'VALIDATION_FAILED', 'The request body could not be read.', [{ field: '(body)', message: 'unreadable' }]);
  // PostgreSQL down or restarting (found by the chaos harness: these were 500s): the client should retry.
  if (isTransientDatabaseError(error))
    return problem(503, 'SERVICE_UNAVAILABLE', 'The database is unavailable or restarting; retry shortly.');
  return problem(500, 'INTERNAL_ERROR', 'An unexpected error occurred; it has been logged.');
}

/** Answers every error as application/problem+json. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = toProblem(error);
    if (body.status >= 500 && body.code === 'INTERNAL_ERROR')
      this.logger.error(redactSecrets(error instanceof Error ? (error.stack ?? error.message) : String(error)));
    if (body.status === 401) response.setHeader('WWW-Authenticate', 'Bearer');
    response.status(body.status).type('application/problem+json').send(JSON.stringify(body));
  }
}
