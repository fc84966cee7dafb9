import type { NextFunction, Request, Response } from 'express';
import { toProblem, ValidationFailedError, type Problem } from './problem-details.js';

/** JSON media types: `application/json` and `application/<anything>+json`, any parameters. */
const JSON_MEDIA_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;
/** What an X-Correlation-Id may be: it is stored on every event the request causes. */
const CORRELATION_ID = /^[\x21-\x7e]{1,128}$/;

function send(response: Response, body: Problem): void {
  response.status(body.status).type('application/problem+json').send(JSON.stringify(body));
}

function hasBody(request: Request): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Runs before the body parser and the routes: a request that carries a body must say it is JSON
 * (415 UNSUPPORTED_MEDIA_TYPE otherwise), and an X-Correlation-Id must be 1-128 printable characters
 * (400 VALIDATION_FAILED), since it is recorded on the events. The size limit is the JSON parser's (413).
 */
export function requestHardening(request: Request, response: Response, next: NextFunction): void {
  if (hasBody(request) && !JSON_MEDIA_TYPE.test(request.headers['content-type'] ?? '')) {
    send(response, {
      type: 'https://ha-license-sync.dev/problems/unsupported-media-type',
      title: 'Unsupported Media Type',
      status: 415,
      detail: 'Request bodies must be JSON (Content-Type: application/json).',
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    return;
  }
  const correlationId = request.headers['x-correlation-id'];
  if (correlationId !== undefined && (typeof correlationId !== 'string' || !CORRELATION_ID.test(correlationId))) {
    send(
      response,
      toProblem(new ValidationFailedError([{ field: 'header.x-correlation-id', message: 'must be 1-128 printable characters' }])),
    );
    return;
  }
  next();
}
