import { expect } from '@jest/globals';
import type { ApiResponse } from './system.js';

/** Asserts an RFC 9457 problem response with our stable `code`, as every error of every service is. */
export function expectProblem(response: ApiResponse, status: number, code: string): void {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toEqual(
    expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String), code }),
  );
}
