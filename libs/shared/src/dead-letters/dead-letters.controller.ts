import {
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  UnprocessableEntityException,
} from '@nestjs/common';
import { z } from 'zod';
import { Allow } from '../auth/auth.guard.js';
import { valid } from '../http/zod-validation.pipe.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../messaging/decode-event.js';
import type { DeadLetterQuery, DeadLetterPage, DeadLetterView, ReplayOutcome } from './dead-letter-index.js';

/** What the endpoints list and replay: a consuming service's dead letters (ConsumerModule provides it). */
export abstract class DeadLetterDesk {
  abstract list(query: DeadLetterQuery): Promise<DeadLetterPage>;
  /** Applies a letter with the consumer's own decoder and handler (see DeadLetterIndex.replay). */
  abstract replay(id: number): Promise<ReplayOutcome>;
}

/** `?consumer=&reason=&limit=1..200 (default 50)&before=<id>` */
export const DeadLetterListQuery = z.object({
  consumer: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a consumer name (A-Z, a-z, 0-9, _ and -)')
    .optional(),
  reason: z.enum(DEAD_LETTER_REASONS as [DeadLetterReason, ...DeadLetterReason[]]).optional(),
  limit: z.coerce.number().int('must be a whole number').min(1, 'must be 1-200').max(200, 'must be 1-200').default(50),
  before: z.coerce.number().int('must be a whole number').positive('must be 1 or more').optional(),
});

export const DeadLetterId = z.coerce.number().int('must be a whole number').positive('must be 1 or more');

/**
 * GET /dead-letters and POST /dead-letters/:id/replay: the messages this service's consumers gave up on,
 * newest first, and their replay through the consumer's own decoder and handler once the cause is fixed.
 */
@Controller('dead-letters')
export class DeadLettersController {
  constructor(@Inject(DeadLetterDesk) private readonly deadLetters: DeadLetterDesk) {}

  /** Operators and auditors: a letter may hold any account's event, so account-scoped keys may not list them. */
  @Get()
  @Allow('operator', 'auditor')
  list(@Query(valid(DeadLetterListQuery)) query: z.infer<typeof DeadLetterListQuery>): Promise<DeadLetterPage> {
    return this.deadLetters.list(query);
  }

  @Post(':id/replay')
  @HttpCode(200)
  async replay(@Param('id', valid(DeadLetterId, 'id')) id: number): Promise<DeadLetterView> {
    const outcome = await this.deadLetters.replay(id);
    if (outcome.ok) return outcome.letter;
    switch (outcome.kind) {
      case 'not-found':
        throw new NotFoundException({ code: 'DEAD_LETTER_NOT_FOUND', message: `There is no dead letter ${id}.` });
      case 'already-replayed':
        throw new ConflictException({
          code: 'DEAD_LETTER_ALREADY_REPLAYED',
          message: `Dead letter ${id} was replayed at ${outcome.replayedAt}.`,
        });
      case 'still-invalid':
        throw new UnprocessableEntityException({
          code: 'DEAD_LETTER_STILL_INVALID',
          message: `Dead letter ${id} is still not an acceptable event (${outcome.reason}: ${outcome.detail}); it stays listed.`,
        });
      case 'failed':
        throw new UnprocessableEntityException({
          code: 'DEAD_LETTER_REPLAY_FAILED',
          message: `Applying dead letter ${id} failed (${outcome.error.message}); it stays listed.`,
        });
      default: {
        const unexpected: never = outcome;
        throw new Error(`unexpected replay outcome ${JSON.stringify(unexpected)}`);
      }
    }
  }
}
