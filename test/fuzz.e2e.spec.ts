/**
 * The short version of `npm run fuzz` (HTTP half): a few hundred requests that must all be refused —
 * unauthenticated, wrong role, cross-tenant, malformed, wrongly typed, oversized, wrong media type, bad
 * headers — across every endpoint; none may be answered 5xx, none may be accepted, and no table may change.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { TEST_DATABASE } from '#shared/testing';
import { fuzzHttp } from '../scripts/fuzz/http.js';
import { SERVICES, TEST_OPERATOR_KEY, startSystem, type RunningSystem } from './support/system.js';

jest.setTimeout(180_000);

const REQUESTS = 800;

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem('fuzz', { readyTimeoutMs: 90_000 });
}, 60_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

describe('the HTTP fuzz', () => {
  it(`refuses ${REQUESTS} hostile requests without a 5xx and without changing any state`, async () => {
    const seed = Date.now() % 2 ** 31;
    const report = await fuzzHttp(
      {
        pairing: system.pairing,
        licensing: system.licensing,
        syncAgent: system.syncAgent,
        operatorKey: TEST_OPERATOR_KEY,
        postgres: { host: '127.0.0.1', port: 5432, user: 'postgres', database: TEST_DATABASE },
        schemas: SERVICES.map(({ name }) => system.schemas[name]),
      },
      { requests: REQUESTS, seed },
    );
    const summary = { seed, failures: report.failures, changedTables: report.changedTables };
    expect({ ...summary, fiveXx: report.fiveXx, acceptedChanges: report.acceptedChanges }).toEqual({
      ...summary,
      failures: [],
      changedTables: [],
      fiveXx: 0,
      acceptedChanges: 0,
    });
    expect(report.sent).toBe(REQUESTS);
    expect(report.byClass['4xx']).toBeGreaterThan(REQUESTS * 0.9);
    for (const category of [
      'unauthenticated',
      'wrong-role',
      'cross-tenant',
      'malformed',
      'wrongly-typed',
      'oversized',
      'media-type',
      'header',
    ])
      expect(report.byCategory).toHaveProperty(category);
    for (const status of ['400', '401', '403', '404', '413', '415']) expect(report.byStatus).toHaveProperty(status);
  });
});
