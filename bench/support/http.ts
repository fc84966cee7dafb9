/**
 * A lean HTTP/1.1 JSON client over keep-alive sockets (node:http), so that the load generator costs the
 * machine as little as possible next to the services it measures.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';

/** The bootstrap operator key the benchmark starts its services with (random per run). */
export const BENCH_OPERATOR_KEY = `hlsk_${randomBytes(32).toString('base64url')}`;
const AUTHORIZATION = `Bearer ${BENCH_OPERATOR_KEY}`;

let agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * Closes the idle keep-alive sockets. Call before a burst that follows a pause: a server closes a socket
 * idle for 5 s, and a request sent on it just then fails with ECONNRESET.
 */
export function resetConnections(): void {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
}

export interface HttpResult {
  readonly status: number;
  readonly body: string;
  /** When the whole response had arrived (performance.now()). */
  readonly receivedAt: number;
  /** From the request being issued to the whole response arriving, in ms. */
  readonly ms: number;
}

export function httpRequest(method: string, url: string, body?: unknown): Promise<HttpResult> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method,
        agent,
        headers:
          payload === undefined
            ? { authorization: AUTHORIZATION }
            : { authorization: AUTHORIZATION, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const receivedAt = performance.now();
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            receivedAt,
            ms: receivedAt - started,
          });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/** POSTs JSON and returns the parsed body; throws unless the status is `expected`. */
export async function postJson<T>(url: string, body: unknown, expected = 201): Promise<T> {
  const result = await httpRequest('POST', url, body);
  if (result.status !== expected) throw new Error(`POST ${url} → ${result.status}: ${result.body}`);
  return JSON.parse(result.body) as T;
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` at a time. */
export async function inParallel(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}
