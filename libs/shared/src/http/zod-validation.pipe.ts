import { Injectable, Param, type PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { Serial } from '../contracts/pairing.events.js';
import { ValidationFailedError } from './problem-details.js';

/** Validates (and narrows) a body, path parameter or query against a zod schema; 400 with every bad field. */
@Injectable()
export class ZodValidationPipe<T> implements PipeTransform<unknown, T> {
  constructor(
    private readonly schema: z.ZodType<T>,
    private readonly where = '',
  ) {}

  transform(value: unknown): T {
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    throw new ValidationFailedError(
      result.error.issues.map((issue) => ({
        field: [this.where, ...issue.path.map(String)].filter(Boolean).join('.') || '(body)',
        message: issue.message,
      })),
    );
  }
}

/** Shorthand: `@Body(valid(RegisterProductBody))`. */
export function valid<T>(schema: z.ZodType<T>, where = ''): ZodValidationPipe<T> {
  return new ZodValidationPipe(schema, where);
}

/** A path parameter that must be a UUID (400 otherwise): `@UuidParam('pairId') pairId: string`. */
export function UuidParam(name: string): ParameterDecorator {
  return Param(name, valid(z.uuid('must be a UUID'), name));
}

/** The `:serial` path parameter, a product's serial (400 otherwise): `@SerialParam() serial: string`. */
export function SerialParam(): ParameterDecorator {
  return Param('serial', valid(Serial, 'serial'));
}
