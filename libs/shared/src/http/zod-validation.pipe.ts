import { Injectable, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
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
