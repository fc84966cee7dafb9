import { describe, expect, it } from '@jest/globals';
import { toProblem } from './problem-details.js';

describe('toProblem', () => {
  describe('when PostgreSQL is down or restarting', () => {
    it.each([
      ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
      ['a terminated connection', new Error('Connection terminated unexpectedly')],
      [
        'an administrator shutdown (57P01), wrapped by TypeORM',
        Object.assign(new Error('terminating connection'), { driverError: { code: '57P01' } }),
      ],
      [
        'a query runner TypeORM released when its connection broke',
        new Error(
          'Database connection provided by a query runner was already released, cannot continue to use its querying methods anymore.',
        ),
      ],
      ['a query runner used after that', new Error('Query runner already released. Cannot run queries anymore.')],
      ['a server starting up (57P03)', Object.assign(new Error('the database system is starting up'), { code: '57P03' })],
    ])('answers 503 SERVICE_UNAVAILABLE for %s, so the client retries', (_, error) => {
      expect(toProblem(error)).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    });
  });

  describe('when the error is not understood', () => {
    it('answers 500 INTERNAL_ERROR without details', () => {
      const problem = toProblem(new Error('relation "x" does not exist'));
      expect(problem).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
      expect(problem.detail).not.toContain('relation');
    });
  });
});
