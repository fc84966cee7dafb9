import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * Configuration of one service, read from environment variables with localhost defaults.
 * Every variable is validated at start; a bad one stops the service with a message naming it.
 */
export interface ServiceConfig {
  readonly service: string;
  readonly http: HttpSettings;
  readonly postgres: PostgresSettings;
  readonly nats: NatsSettings;
  /** Prefix of every subject and stream name; empty in production, unique per test run. */
  readonly busNamespace: string;
  /** Copies JetStream keeps of each stream the service creates: 1 on a single server, 3 on a 3-node cluster. */
  readonly streamReplicas: number;
  readonly logFormat: 'text' | 'json';
  /** LOG_LEVEL: the least severe level printed (`debug` adds health probes and scrapes, `verbose` Nest's start-up). */
  readonly logLevel: LogThreshold;
  /** Licenses expiring within this many days are flagged and announced as expiring soon. */
  readonly expiryWarningDays: number;
  /** Requests one API key may make per minute to one service before 429 RATE_LIMITED (the sustained rate). */
  readonly rateLimitPerMinute: number;
  /** How many requests of one key may come at once above that rate (default one second's share of it). */
  readonly rateLimitBurst: number;
  /** Refused API keys one client address may present per minute (and at once) before 429 without a lookup. */
  readonly failedAuthPerMinute: number;
  /** How long licensing and the sync agent trust pairing's answer about a key (so a revocation takes this long). */
  readonly apiKeyCacheSeconds: number;
  /** Where the keys that sign this service's events and verify everyone's are. */
  readonly eventKeys: EventKeySettings;
  /** The byte limit of every JetStream stream (event streams and dead letters); the oldest messages go first. */
  readonly streamMaxBytes: number;
}

/** Where the HTTP server listens, how long a client may take to send a request, and whom to believe about it. */
export interface HttpSettings {
  readonly host: string;
  readonly port: number;
  /** HTTP_HEADERS_TIMEOUT_SECONDS: the whole request head must arrive within this (else 408 and closed). */
  readonly headersTimeoutSeconds: number;
  /** HTTP_REQUEST_TIMEOUT_SECONDS: the whole request, head and body, must arrive within this (else 408 and closed). */
  readonly requestTimeoutSeconds: number;
  /**
   * TRUST_PROXY: whose X-Forwarded-For to believe for the client address. `false` (unset): nobody, the socket's
   * peer is the client; a number: that many proxy hops in front; a list: proxies at these addresses or subnets
   * (or `loopback`, `linklocal`, `uniquelocal`).
   */
  readonly trustProxy: false | number | readonly string[];
}

/** How a service reaches NATS: servers, its bus user, TLS, and the inbox prefix its replies arrive under. */
export interface NatsSettings {
  readonly servers: string[];
  /** NATS_USER / NATS_PASSWORD: the service's own user (none against a server without authorization). */
  readonly user?: string;
  readonly password?: string;
  /** NATS_TLS_*: CA bundle to trust, and a client certificate for servers that verify clients. */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /** NATS_INBOX_PREFIX, default `_INBOX_<service>`: the only inboxes the service's bus user may read. */
  readonly inboxPrefix: string;
}

/** The validated variables of the event-signing keys (see loadEventKeyRing). */
export interface EventKeySettings {
  /** Absolute path of the key directory. */
  readonly dir: string;
  /** False when EVENT_KEYS_DIR is unset and development keys are used (made if missing). */
  readonly configured: boolean;
  /** EVENT_SIGNING_KEY_ID: the `<name>` (or `<source>/<name>`) of the key to sign with; default the last private one. */
  readonly signingKeyId: string | undefined;
  /** NODE_ENV=production: development keys are refused. */
  readonly production: boolean;
}

/** Where a service keeps its data: its own database, and a schema inside it. */
export interface PostgresSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  readonly schema: string;
}

/** A configuration variable was missing or malformed; the message names each bad variable. */
export class ConfigurationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

/** LOG_LEVEL's values, most severe first; each prints itself and everything more severe. */
export const LOG_THRESHOLDS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogThreshold = (typeof LOG_THRESHOLDS)[number];

/** Where development event keys go when EVENT_KEYS_DIR is unset (git-ignored). */
const DEVELOPMENT_EVENT_KEYS_DIR = '.local/event-signing-keys';

/** A whole number from `min` to `max` (environment variables are text). */
function wholeNumber(min: number, max: number) {
  return z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be ${min}-${max}`)
    .max(max, `must be ${min}-${max}`);
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An address (`10.0.0.1`), a subnet (`10.0.0.0/8`, `fd00::/8`) or one of proxy-addr's names. */
function isProxyEntry(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

const TRUST_PROXY_RULE =
  'must be false, a number of proxy hops (1-10), or comma-separated proxy addresses or subnets (or loopback, linklocal, uniquelocal)';

/**
 * TRUST_PROXY: `false` trusts no X-Forwarded-For; `1`-`10` trusts that many hops; otherwise a comma-separated
 * list of proxy addresses or subnets. `true` (anyone's header) is refused: it would let every client choose its
 * own address, and with it a fresh failed-authentication budget per request.
 */
const trustProxy = z.string().transform((raw, ctx): false | number | string[] => {
  const value = raw.trim();
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops >= 1 && hops <= 10) return hops;
  } else {
    const entries = value.split(',').map((entry) => entry.trim());
    if (entries.every(isProxyEntry)) return entries;
  }
  ctx.addIssue({ code: 'custom', message: TRUST_PROXY_RULE });
  return z.NEVER;
});

/** The default byte limit of each JetStream stream: 1 GiB (four streams reserve 4 GiB of the server's store). */
export const DEFAULT_STREAM_MAX_BYTES = 1024 ** 3;
const MIN_STREAM_MAX_BYTES = 1024 ** 2;
const MAX_STREAM_MAX_BYTES = 1024 ** 4;

const port = z.coerce.number().int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535');
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier (a-z, 0-9, _)');

export interface ServiceConfigDefaults {
  readonly service: string;
  /** The variable that sets the HTTP port, e.g. PAIRING_PORT. */
  readonly portVariable: string;
  readonly defaultPort: number;
  readonly defaultDatabase: string;
}

/** The variables of a service's configuration and how each is read. */
function configSchema(defaults: ServiceConfigDefaults) {
  return z.object({
    HTTP_HOST: z.string().min(1).default('127.0.0.1'),
    HTTP_PORT: port.default(defaults.defaultPort),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }).optional(),
    PGHOST: z.string().min(1).default('127.0.0.1'),
    PGPORT: port.default(5432),
    PGUSER: z.string().min(1).default('postgres'),
    PGPASSWORD: z.string().optional(),
    PGDATABASE: identifier.default(defaults.defaultDatabase),
    DB_SCHEMA: identifier.default('public'),
    NATS_URL: z
      .string()
      .default('nats://127.0.0.1:4222')
      .transform((s) => s.split(',').map((u) => u.trim()))
      .pipe(z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, 'must be nats://host:port (comma-separated for several)'))),
    BUS_NAMESPACE: z
      .string()
      .regex(/^[a-z0-9_-]*$/, 'may only contain a-z, 0-9, _ and -')
      .default(''),
    STREAM_REPLICAS: z.coerce.number().int('must be a whole number').min(1, 'must be 1-5').max(5, 'must be 1-5').default(1),
    NATS_USER: z.string().optional(),
    NATS_PASSWORD: z.string().optional(),
    NATS_TLS_CA_FILE: z.string().optional(),
    NATS_TLS_CERT_FILE: z.string().optional(),
    NATS_TLS_KEY_FILE: z.string().optional(),
    NATS_INBOX_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'must be one subject token (A-Z, a-z, 0-9, _ and -)')
      .default(`_INBOX_${defaults.service}`),
    NODE_ENV: z.string().optional(),
    EVENT_KEYS_DIR: z.string().optional(),
    EVENT_SIGNING_KEY_ID: z
      .string()
      .regex(/^([a-z-]+\/)?[A-Za-z0-9._-]{1,64}$/, 'must be a key name (the file name without .pem)')
      .optional(),
    LOG_FORMAT: z.enum(['text', 'json']).default('text'),
    LOG_LEVEL: z.enum(LOG_THRESHOLDS).default('log'),
    EXPIRY_WARNING_DAYS: z.coerce
      .number()
      .int('must be a whole number')
      .min(1, 'must be 1 or more')
      .max(3650, 'must be at most 3650')
      .default(30),
    RATE_LIMIT_PER_MINUTE: z.coerce
      .number()
      .int('must be a whole number')
      .min(1, 'must be 1 or more')
      .max(100_000_000, 'must be at most 100000000')
      .default(60_000),
    RATE_LIMIT_BURST: wholeNumber(1, 100_000_000).optional(),
    FAILED_AUTH_PER_MINUTE: wholeNumber(1, 1_000_000).default(60),
    TRUST_PROXY: trustProxy.default(false),
    HTTP_HEADERS_TIMEOUT_SECONDS: wholeNumber(1, 300).default(10),
    HTTP_REQUEST_TIMEOUT_SECONDS: wholeNumber(1, 300).default(10),
    STREAM_MAX_BYTES: wholeNumber(MIN_STREAM_MAX_BYTES, MAX_STREAM_MAX_BYTES).default(DEFAULT_STREAM_MAX_BYTES),
    API_KEY_CACHE_SECONDS: z.coerce
      .number()
      .int('must be a whole number')
      .min(0, 'must be 0 or more')
      .max(300, 'must be at most 300')
      .default(5),
  });
}

/**
 * Every variable loadServiceConfig reads, but the port's (named after each service, e.g. PAIRING_PORT): what a
 * harness may set for a service, so that its allow-list of child variables cannot drift from the configuration.
 */
export const SERVICE_CONFIG_VARIABLES: readonly string[] = Object.keys(
  configSchema({ service: 'any', portVariable: 'HTTP_PORT', defaultPort: 1, defaultDatabase: 'any' }).shape,
).filter((name) => name !== 'HTTP_PORT');

/** Reads and validates a service's configuration; throws ConfigurationError listing every bad variable. */
export function loadServiceConfig(defaults: ServiceConfigDefaults, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const schema = configSchema(defaults);
  // The port's variable is named after the service (PAIRING_PORT); it is read as HTTP_PORT and reported
  // under its own name.
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse({ ...blankAsUnset, HTTP_PORT: blankAsUnset[defaults.portVariable] });
  if (!parsed.success) {
    throw new ConfigurationError(
      parsed.error.issues.map((i) => {
        const name = i.path[0] === 'HTTP_PORT' ? defaults.portVariable : String(i.path[0]);
        // A URL may carry a password: never repeat it.
        const got = name === 'DATABASE_URL' ? redactUrlPassword(String(env[name])) : env[name];
        return `${name}: ${i.message} (got ${JSON.stringify(got)})`;
      }),
    );
  }
  const c = parsed.data;
  const pairs: [string, string | undefined, string, string | undefined][] = [
    ['NATS_USER', c.NATS_USER, 'NATS_PASSWORD', c.NATS_PASSWORD],
    ['NATS_TLS_CERT_FILE', c.NATS_TLS_CERT_FILE, 'NATS_TLS_KEY_FILE', c.NATS_TLS_KEY_FILE],
  ];
  const problems = pairs.flatMap(([a, va, b, vb]) =>
    (va === undefined) !== (vb === undefined)
      ? [`${va === undefined ? a : b}: must be set together with ${va === undefined ? b : a}`]
      : [],
  );
  if (c.HTTP_HEADERS_TIMEOUT_SECONDS > c.HTTP_REQUEST_TIMEOUT_SECONDS)
    problems.push(
      `HTTP_HEADERS_TIMEOUT_SECONDS: must not exceed HTTP_REQUEST_TIMEOUT_SECONDS (${c.HTTP_REQUEST_TIMEOUT_SECONDS}), which includes the headers (got ${c.HTTP_HEADERS_TIMEOUT_SECONDS})`,
    );
  if (problems.length > 0) throw new ConfigurationError(problems);
  const tlsFiles = { caFile: c.NATS_TLS_CA_FILE, certFile: c.NATS_TLS_CERT_FILE, keyFile: c.NATS_TLS_KEY_FILE };
  const tls = Object.fromEntries(Object.entries(tlsFiles).filter(([, v]) => v !== undefined));
  const fromUrl = c.DATABASE_URL ? new URL(c.DATABASE_URL) : undefined;
  return {
    service: defaults.service,
    http: {
      host: c.HTTP_HOST,
      port: c.HTTP_PORT,
      headersTimeoutSeconds: c.HTTP_HEADERS_TIMEOUT_SECONDS,
      requestTimeoutSeconds: c.HTTP_REQUEST_TIMEOUT_SECONDS,
      trustProxy: c.TRUST_PROXY,
    },
    postgres: {
      host: fromUrl?.hostname || c.PGHOST,
      port: fromUrl?.port ? Number(fromUrl.port) : c.PGPORT,
      user: fromUrl?.username ? decodeURIComponent(fromUrl.username) : c.PGUSER,
      password: fromUrl?.password ? decodeURIComponent(fromUrl.password) : c.PGPASSWORD,
      database: fromUrl && fromUrl.pathname.length > 1 ? decodeURIComponent(fromUrl.pathname.slice(1)) : c.PGDATABASE,
      schema: c.DB_SCHEMA,
    },
    nats: {
      servers: c.NATS_URL,
      ...(c.NATS_USER !== undefined ? { user: c.NATS_USER, password: c.NATS_PASSWORD } : {}),
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
      inboxPrefix: c.NATS_INBOX_PREFIX,
    },
    busNamespace: c.BUS_NAMESPACE,
    streamReplicas: c.STREAM_REPLICAS,
    logFormat: c.LOG_FORMAT,
    logLevel: c.LOG_LEVEL,
    expiryWarningDays: c.EXPIRY_WARNING_DAYS,
    rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
    // One second's share by default: a burst of a whole minute let a flood through at several times the rate.
    rateLimitBurst: c.RATE_LIMIT_BURST ?? Math.ceil(c.RATE_LIMIT_PER_MINUTE / 60),
    failedAuthPerMinute: c.FAILED_AUTH_PER_MINUTE,
    apiKeyCacheSeconds: c.API_KEY_CACHE_SECONDS,
    eventKeys: {
      dir: resolve(c.EVENT_KEYS_DIR ?? DEVELOPMENT_EVENT_KEYS_DIR),
      configured: c.EVENT_KEYS_DIR !== undefined,
      signingKeyId: c.EVENT_SIGNING_KEY_ID,
      production: c.NODE_ENV === 'production',
    },
    streamMaxBytes: c.STREAM_MAX_BYTES,
  };
}

function redactUrlPassword(url: string): string {
  return url.replace(/(\/\/[^/:@\s]*:)[^@/\s]*@/, '$1[REDACTED]@');
}
