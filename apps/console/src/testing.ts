import { vi } from 'vitest';
import { ApiError, type Client, type Service } from './api';

/** A Client answering from a table of `<service> <METHOD> <path>` → body (a function, or an ApiError to throw). */
export function fakeClient(routes: Record<string, unknown>): Client & { calls: string[] } {
  const calls: string[] = [];
  const answer = (method: string, service: Service, path: string) => {
    const key = `${service} ${method} ${path}`;
    calls.push(key);
    const route = Object.keys(routes).find((r) => (r.endsWith('*') ? key.startsWith(r.slice(0, -1)) : key === r));
    if (route === undefined) return Promise.reject(new ApiError(404, 'NOT_FOUND', `no fake for ${key}`));
    const value = routes[route];
    if (value instanceof Error) return Promise.reject(value);
    return Promise.resolve(typeof value === 'function' ? (value as () => unknown)() : value);
  };
  return {
    calls,
    get: vi.fn((service: Service, path: string) => answer('GET', service, path)) as Client['get'],
    post: vi.fn((service: Service, path: string) => answer('POST', service, path)) as Client['post'],
  };
}
