/**
 * The console's HTTP client. The sync agent serves the console, so its own API is on this origin; pairing and
 * licensing are reached through the sync agent's console proxy (/console/api/<service>/…), which forwards the
 * Authorization header and nothing else of the page. Every call carries the signed-in key.
 */
export type Service = 'pairing' | 'licensing' | 'sync-agent';

const BASES: Readonly<Record<Service, string>> = {
  'sync-agent': '',
  pairing: '/console/api/pairing',
  licensing: '/console/api/licensing',
};

/** An answer other than 2xx: the problem document's code and detail when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

export interface Client {
  get<T>(service: Service, path: string): Promise<T>;
  post<T>(service: Service, path: string): Promise<T>;
}

/** A client that sends `key` as the bearer token; `fetchImpl` for tests. */
export function createClient(key: string, fetchImpl: typeof fetch = (input, init) => fetch(input, init)): Client {
  const call = async <T>(method: 'GET' | 'POST', service: Service, path: string): Promise<T> => {
    const response = await fetchImpl(`${BASES[service]}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
      cache: 'no-store',
    });
    const text = await response.text();
    const body: unknown = text.length > 0 && /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text;
    if (!response.ok) {
      const problem = (typeof body === 'object' && body !== null ? body : {}) as { code?: string; detail?: string };
      throw new ApiError(response.status, problem.code ?? `HTTP_${response.status}`, problem.detail ?? response.statusText);
    }
    return body as T;
  };
  return { get: (service, path) => call('GET', service, path), post: (service, path) => call('POST', service, path) };
}

/** Every item of a cursor-paged list, following `nextCursor` up to `maxPages` pages. */
export async function allPages<T>(
  fetchPage: (cursor: string | null) => Promise<{ items: readonly T[]; nextCursor: string | null }>,
  maxPages = 20,
): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const result = await fetchPage(cursor);
    items.push(...result.items);
    cursor = result.nextCursor;
    if (cursor === null) return { items, complete: true };
  }
  return { items, complete: false };
}

/** `?a=1&b=2` from the defined entries. */
export function query(params: Readonly<Record<string, string | number | null | undefined>>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null) search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
