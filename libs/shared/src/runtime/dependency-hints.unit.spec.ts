import { describe, expect, it } from '@jest/globals';
import { jetStreamWaitMessage, natsWaitMessage, postgresWaitMessage } from './dependency-hints.js';
import type { PostgresSettings } from '../config/service-config.js';

const postgres: PostgresSettings = {
  host: '127.0.0.1',
  port: 5432,
  user: 'postgres',
  password: 'never-printed',
  database: 'ha_pairing',
  schema: 'public',
};

const errorWithCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('waiting for PostgreSQL', () => {
  it('names the address, database and user, and how to start PostgreSQL when nothing answers', () => {
    const message = postgresWaitMessage(postgres, errorWithCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), 3);
    expect(message).toMatch(
      /^waiting for PostgreSQL at 127\.0\.0\.1:5432 \(database ha_pairing, user postgres, attempt 3\): connect ECONNREFUSED/,
    );
    expect(message).toContain('pg_ctlcluster');
    expect(message).toContain('README');
    expect(message).not.toContain('never-printed');
  });

  it('points at the credentials when the login is refused, and at the host name when it does not resolve', () => {
    expect(postgresWaitMessage(postgres, errorWithCode('password authentication failed', '28P01'))).toMatch(
      /PGUSER and PGPASSWORD/,
    );
    expect(postgresWaitMessage(postgres, errorWithCode('role "x" does not exist', '28000'))).toMatch(/PGUSER and PGPASSWORD/);
    expect(postgresWaitMessage(postgres, errorWithCode('getaddrinfo ENOTFOUND db', 'ENOTFOUND'))).toMatch(/PGHOST/);
  });

  it('falls back to the README for anything else', () => {
    expect(postgresWaitMessage(postgres, new Error('something odd'))).toMatch(/something odd\. see README/);
  });
});

describe('waiting for NATS', () => {
  const servers = ['nats://127.0.0.1:4222'];

  it('names the address and the command that starts NATS with JetStream when nothing answers', () => {
    const message = natsWaitMessage(servers, new Error('connection refused'), 1);
    expect(message).toMatch(/^waiting for NATS at nats:\/\/127\.0\.0\.1:4222 \(attempt 1\): connection refused\./);
    expect(message).toContain('`nats-server -js`');
  });

  it('points at the bus credentials or TLS settings when those fail', () => {
    expect(natsWaitMessage(servers, new Error('Authorization Violation'))).toMatch(/NATS_USER and NATS_PASSWORD/);
    expect(natsWaitMessage(servers, new Error('self-signed certificate'))).toMatch(/NATS_TLS_CA_FILE/);
  });

  it('says to enable JetStream when NATS answers without it', () => {
    expect(jetStreamWaitMessage('JetStream', servers, new Error('jetstream is not enabled'))).toMatch(/nats-server with `-js`/);
  });
});
