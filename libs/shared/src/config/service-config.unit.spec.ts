import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigurationError, loadServiceConfig, type ServiceConfigDefaults } from './service-config.js';

const pairing: ServiceConfigDefaults = {
  service: 'pairing',
  portVariable: 'PAIRING_PORT',
  defaultPort: 3001,
  defaultDatabase: 'ha_pairing',
};

function configurationError(env: NodeJS.ProcessEnv): ConfigurationError {
  try {
    loadServiceConfig(pairing, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error(`expected a ConfigurationError for ${JSON.stringify(env)}`);
}

describe('loadServiceConfig', () => {
  describe('when no variable is set', () => {
    it('uses the localhost defaults and the service-specific port and database', () => {
      expect(loadServiceConfig(pairing, {})).toEqual({
        service: 'pairing',
        http: { host: '127.0.0.1', port: 3001, headersTimeoutSeconds: 10, requestTimeoutSeconds: 10, trustProxy: false },
        postgres: {
          host: '127.0.0.1',
          port: 5432,
          user: 'postgres',
          password: undefined,
          database: 'ha_pairing',
          schema: 'public',
        },
        nats: { servers: ['nats://127.0.0.1:4222'], inboxPrefix: '_INBOX_pairing' },
        busNamespace: '',
        streamReplicas: 1,
        logFormat: 'text',
        logLevel: 'log',
        expiryWarningDays: 30,
        rateLimitPerMinute: 60_000,
        rateLimitBurst: 1_000,
        failedAuthPerMinute: 60,
        apiKeyCacheSeconds: 5,
        eventKeys: {
          dir: resolve('.local/event-signing-keys'),
          configured: false,
          signingKeyId: undefined,
          production: false,
        },
        streamMaxBytes: 1024 ** 3,
      });
    });

    it('treats blank variables as unset', () => {
      expect(loadServiceConfig(pairing, { PAIRING_PORT: '', PGHOST: '', DB_SCHEMA: '', NATS_URL: '' })).toEqual(
        loadServiceConfig(pairing, {}),
      );
    });
  });

  describe('when variables are set', () => {
    it('reads the port from the service port variable, not HTTP_PORT', () => {
      expect(loadServiceConfig(pairing, { PAIRING_PORT: '8080', HTTP_PORT: '9999' }).http.port).toBe(8080);
    });

    it('reads the PG* variables, the schema, several NATS servers, the namespace and the log format and level', () => {
      const config = loadServiceConfig(pairing, {
        PGHOST: 'db.local',
        PGPORT: '6543',
        PGUSER: 'svc',
        PGPASSWORD: 'secret',
        PGDATABASE: 'pairing_db',
        DB_SCHEMA: 'pairing',
        NATS_URL: 'nats://a:4222, nats://b:4223',
        BUS_NAMESPACE: 'run-1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'debug',
      });
      expect(config.postgres).toEqual({
        host: 'db.local',
        port: 6543,
        user: 'svc',
        password: 'secret',
        database: 'pairing_db',
        schema: 'pairing',
      });
      expect(config.nats.servers).toEqual(['nats://a:4222', 'nats://b:4223']);
      expect(config.busNamespace).toBe('run-1');
      expect(config.logFormat).toBe('json');
      expect(config.logLevel).toBe('debug');
    });

    it('reads how many replicas the streams get on a cluster', () => {
      expect(loadServiceConfig(pairing, { STREAM_REPLICAS: '3' }).streamReplicas).toBe(3);
    });

    it('lets DATABASE_URL override every PG* variable it names, decoding user, password and database', () => {
      const config = loadServiceConfig(pairing, {
        DATABASE_URL: 'postgresql://app%40corp:p%2Fss%3Aword@db.example.com:7000/pairing%5Fprod',
        PGHOST: 'ignored-host',
        PGPORT: '1111',
        PGUSER: 'ignored-user',
        PGPASSWORD: 'ignored-password',
        PGDATABASE: 'ignored_db',
        DB_SCHEMA: 'pairing',
      });
      expect(config.postgres).toEqual({
        host: 'db.example.com',
        port: 7000,
        user: 'app@corp',
        password: 'p/ss:word',
        database: 'pairing_prod',
        schema: 'pairing',
      });
    });

    it('falls back to PG* for what DATABASE_URL leaves out (as libpq does)', () => {
      const config = loadServiceConfig(pairing, { DATABASE_URL: 'postgres://db.example.com', PGPORT: '6000', PGUSER: 'svc' });
      expect(config.postgres).toMatchObject({ host: 'db.example.com', port: 6000, user: 'svc', database: 'ha_pairing' });
    });
  });

  describe('the abuse bounds', () => {
    it.each([
      [{ RATE_LIMIT_PER_MINUTE: '600' }, { rateLimitPerMinute: 600, rateLimitBurst: 10 }],
      [{ RATE_LIMIT_PER_MINUTE: '40' }, { rateLimitPerMinute: 40, rateLimitBurst: 1 }],
      [
        { RATE_LIMIT_PER_MINUTE: '600', RATE_LIMIT_BURST: '50' },
        { rateLimitPerMinute: 600, rateLimitBurst: 50 },
      ],
      [{ FAILED_AUTH_PER_MINUTE: '5' }, { failedAuthPerMinute: 5 }],
      [{ STREAM_MAX_BYTES: '1048576' }, { streamMaxBytes: 1_048_576 }],
    ])('read %j (the burst defaults to one second of the rate)', (env, expected) => {
      expect(loadServiceConfig(pairing, env)).toMatchObject(expected);
    });

    it.each([
      [
        { HTTP_HEADERS_TIMEOUT_SECONDS: '2', HTTP_REQUEST_TIMEOUT_SECONDS: '3' },
        { headersTimeoutSeconds: 2, requestTimeoutSeconds: 3 },
      ],
      [{ TRUST_PROXY: 'false' }, { trustProxy: false }],
      [{ TRUST_PROXY: '2' }, { trustProxy: 2 }],
      [{ TRUST_PROXY: 'loopback' }, { trustProxy: ['loopback'] }],
      [
        { TRUST_PROXY: '10.0.0.0/8, 192.0.2.7 ,fd00::/8,uniquelocal' },
        { trustProxy: ['10.0.0.0/8', '192.0.2.7', 'fd00::/8', 'uniquelocal'] },
      ],
    ])('read %j into the HTTP settings', (env, expected) => {
      expect(loadServiceConfig(pairing, env).http).toMatchObject(expected);
    });

    it.each([
      [{ TRUST_PROXY: 'true' }, /^TRUST_PROXY: must be false, a number of proxy hops/],
      [{ TRUST_PROXY: '0' }, /^TRUST_PROXY: /],
      [{ TRUST_PROXY: '11' }, /^TRUST_PROXY: /],
      [{ TRUST_PROXY: '10.0.0.0/33' }, /^TRUST_PROXY: /],
      [{ TRUST_PROXY: 'proxy.example.com' }, /^TRUST_PROXY: /],
      [{ HTTP_REQUEST_TIMEOUT_SECONDS: '0' }, /^HTTP_REQUEST_TIMEOUT_SECONDS: must be 1-300/],
      [{ HTTP_HEADERS_TIMEOUT_SECONDS: '301' }, /^HTTP_HEADERS_TIMEOUT_SECONDS: must be 1-300/],
      [
        { HTTP_HEADERS_TIMEOUT_SECONDS: '20', HTTP_REQUEST_TIMEOUT_SECONDS: '10' },
        /^HTTP_HEADERS_TIMEOUT_SECONDS: must not exceed HTTP_REQUEST_TIMEOUT_SECONDS/,
      ],
      [{ RATE_LIMIT_BURST: '0' }, /^RATE_LIMIT_BURST: /],
      [{ FAILED_AUTH_PER_MINUTE: 'many' }, /^FAILED_AUTH_PER_MINUTE: must be a whole number/],
      [{ STREAM_MAX_BYTES: '1000' }, /^STREAM_MAX_BYTES: must be 1048576-/],
    ])('refuse %j', (env, problem) => {
      expect(configurationError(env).problems).toEqual([expect.stringMatching(problem)]);
    });
  });

  describe('when a variable is malformed', () => {
    it.each([['abc'], ['0'], ['3651'], ['1.5']])('names EXPIRY_WARNING_DAYS for EXPIRY_WARNING_DAYS=%s', (value) => {
      expect(configurationError({ EXPIRY_WARNING_DAYS: value }).problems).toEqual([
        expect.stringContaining('EXPIRY_WARNING_DAYS: '),
      ]);
    });

    it.each([['0'], ['6'], ['2.5'], ['three']])('names STREAM_REPLICAS for STREAM_REPLICAS=%s', (value) => {
      expect(configurationError({ STREAM_REPLICAS: value }).problems).toEqual([expect.stringContaining('STREAM_REPLICAS: ')]);
    });

    it.each([['abc'], ['0'], ['65536'], ['80.5'], ['-1']])('names PAIRING_PORT for PAIRING_PORT=%s', (value) => {
      const error = configurationError({ PAIRING_PORT: value });
      expect(error.message).toContain('PAIRING_PORT');
      expect(error.message).not.toContain('HTTP_PORT');
      expect(error.problems).toEqual([expect.stringContaining(`PAIRING_PORT: `)]);
      expect(error.problems[0]).toContain(JSON.stringify(value));
    });

    it.each([['http://127.0.0.1:4222'], ['127.0.0.1:4222'], ['nats://a:4222,localhost']])(
      'names NATS_URL for NATS_URL=%s',
      (value) => {
        const error = configurationError({ NATS_URL: value });
        expect(error.message).toContain('NATS_URL');
        expect(error.problems).toEqual([expect.stringMatching(/^NATS_URL: must be nats:\/\/host:port/)]);
      },
    );

    it.each([['Pairing'], ['pair-ing'], ['1pairing'], ['a'.repeat(64)]])('names DB_SCHEMA for DB_SCHEMA=%s', (value) => {
      const error = configurationError({ DB_SCHEMA: value });
      expect(error.problems).toEqual([expect.stringMatching(/^DB_SCHEMA: must be a lower-case SQL identifier/)]);
    });

    it('names a DATABASE_URL that is not a postgres URL', () => {
      expect(configurationError({ DATABASE_URL: 'mysql://db/x' }).problems).toEqual([
        expect.stringMatching(/^DATABASE_URL: must be a postgres:\/\/ URL/),
      ]);
    });

    it('reads the bus user, TLS files and inbox prefix the service connects with', () => {
      const config = loadServiceConfig(pairing, {
        NATS_URL: 'tls://nats:4222',
        NATS_USER: 'pairing',
        NATS_PASSWORD: 's3cret',
        NATS_TLS_CA_FILE: '/tls/ca.pem',
        NATS_INBOX_PREFIX: '_INBOX_pairing_blue',
      });
      expect(config.nats).toEqual({
        servers: ['tls://nats:4222'],
        user: 'pairing',
        password: 's3cret',
        tls: { caFile: '/tls/ca.pem' },
        inboxPrefix: '_INBOX_pairing_blue',
      });
    });

    it.each([
      [{ NATS_USER: 'pairing' }, 'NATS_PASSWORD: must be set together with NATS_USER'],
      [{ NATS_PASSWORD: 'x' }, 'NATS_USER: must be set together with NATS_PASSWORD'],
      [{ NATS_TLS_CERT_FILE: '/c.pem' }, 'NATS_TLS_KEY_FILE: must be set together with NATS_TLS_CERT_FILE'],
      [{ NATS_INBOX_PREFIX: '_INBOX.x' }, expect.stringMatching(/^NATS_INBOX_PREFIX: must be one subject token/)],
      [{ EVENT_SIGNING_KEY_ID: '../x' }, expect.stringMatching(/^EVENT_SIGNING_KEY_ID: must be a key name/)],
    ])('refuses %j', (env, problem) => {
      expect(configurationError(env).problems).toEqual([problem]);
    });

    it('reads the event key directory and the signing key id; NODE_ENV=production is passed on', () => {
      const config = loadServiceConfig(pairing, {
        EVENT_KEYS_DIR: '/keys',
        EVENT_SIGNING_KEY_ID: '2026-02',
        NODE_ENV: 'production',
      });
      expect(config.eventKeys).toEqual({ dir: '/keys', configured: true, signingKeyId: '2026-02', production: true });
    });

    it('lists every bad variable at once', () => {
      const error = configurationError({
        PAIRING_PORT: 'x',
        NATS_URL: 'http://x',
        DB_SCHEMA: 'X',
        BUS_NAMESPACE: 'A.B',
        LOG_FORMAT: 'xml',
        LOG_LEVEL: 'info',
      });
      expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual([
        'BUS_NAMESPACE',
        'DB_SCHEMA',
        'LOG_FORMAT',
        'LOG_LEVEL',
        'NATS_URL',
        'PAIRING_PORT',
      ]);
      expect(error.name).toBe('ConfigurationError');
      expect(error.message).toMatch(/^Invalid configuration:\n {2}- /);
    });
  });
});
