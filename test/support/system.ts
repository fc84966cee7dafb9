/**
 * What the end-to-end tests use: the harness (#shared/testing's startSystem: the three services as processes of the
 * compiled `dist/`, each on a free port, its own schema and one bus namespace), an HTTP client that speaks for an
 * operator, and small helpers. The stories (register, associate, pair, grant) are in driver.ts. Run `npm run build`
 * first.
 */
import { randomBytes } from 'node:crypto';
import { TEST_DATABASE, TEST_OPERATOR_KEY, uniqueNamespace } from '#shared/testing';
import { freePort, startService, type ManagedProcess } from '#shared/tools';

export {
  NATS_URL,
  TEST_OPERATOR_KEY,
  deleteNamespaceStreams,
  developmentSigningKey,
  dropSchemas,
  eventually,
  startSystem,
  uniqueNamespace,
  type PostgresServer,
  type RunningSystem,
  type StartOptions,
} from '#shared/testing';
export {
  REPO_ROOT,
  SERVICES,
  entryPointOf,
  freePort,
  schemaOf,
  startService,
  type ExitStatus,
  ManagedProcess,
  type ServiceName,
} from '#shared/tools';

/**
 * A response body as the tests see it: whatever JSON the service sent, asserted on with expect(). Typed
 * `any` on purpose, as checking it is the test's job.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** The body of a response: parsed JSON when the response says it is JSON, else the text. */
export interface ApiResponse<T = Json> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export interface Api {
  request<T = Json>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  get<T = Json>(path: string): Promise<ApiResponse<T>>;
  post<T = Json>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  patch<T = Json>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  delete<T = Json>(path: string): Promise<ApiResponse<T>>;
}

/**
 * JSON over HTTP to one service; never throws on an error status (tests assert it). Sends
 * `Authorization: Bearer <apiKey>` (the test operator key unless another key, or null for none, is given).
 */
export function api(baseUrl: string, apiKey: string | null = TEST_OPERATOR_KEY): Api {
  async function request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(apiKey === null ? {} : { authorization: `Bearer ${apiKey}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = /json/i.test(response.headers.get('content-type') ?? '');
    let parsed: unknown = text;
    if (isJson && text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  }
  return {
    request,
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body ?? {}),
    patch: (path, body) => request('PATCH', path, body ?? {}),
    delete: (path) => request('DELETE', path),
  };
}

/** A random serial (12 characters 0-9A-F). */
export function randomSerial(): string {
  return randomBytes(6).toString('hex').toUpperCase();
}

/** An ISO instant `ms` milliseconds from now. */
export function fromNow(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

export const DAY_MS = 86_400_000;

/** A pairing process on its own schema whose NATS is an unused port: PostgreSQL up, the bus down. */
export interface PairingWithoutNats {
  readonly proc: ManagedProcess;
  readonly url: string;
  readonly schema: string;
  /** The NATS URL it was given, where nothing answers. */
  readonly natsUrl: string;
}

/** Starts pairing alone against a NATS that does not answer (for what a service does while the bus is down). */
export async function spawnPairingWithoutNats(label: string): Promise<PairingWithoutNats> {
  const port = await freePort();
  const deadNatsPort = await freePort();
  const schema = `${uniqueNamespace(label)}_pairing`;
  const natsUrl = `nats://127.0.0.1:${deadNatsPort}`;
  const proc = startService('pairing', {
    HTTP_HOST: '127.0.0.1',
    PAIRING_PORT: String(port),
    PGDATABASE: TEST_DATABASE,
    DB_SCHEMA: schema,
    NATS_URL: natsUrl,
    OPERATOR_API_KEY: TEST_OPERATOR_KEY,
  });
  return { proc, url: `http://127.0.0.1:${port}`, schema, natsUrl };
}
