import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPrivateNatsServer, type PrivateNatsServer } from './private-nats-server.js';

/** The repository's bus permissions, as deployed (deploy/nats/permissions.conf). */
export const PERMISSIONS_CONF = fileURLToPath(new URL('../../../../deploy/nats/permissions.conf', import.meta.url));

/** The users of permissions.conf and the variable each one's password is read from. */
export const BUS_USERS = {
  pairing: 'PAIRING_NATS_PASSWORD',
  licensing: 'LICENSING_NATS_PASSWORD',
  'sync-agent': 'SYNC_AGENT_NATS_PASSWORD',
  'bus-reader': 'BUS_READER_NATS_PASSWORD',
  'bus-admin': 'BUS_ADMIN_NATS_PASSWORD',
} as const;
export type BusUser = keyof typeof BUS_USERS;

/** Certificates a test made: a CA, and a server certificate it signed for 127.0.0.1 / localhost. */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
}

/**
 * Makes a throw-away CA and a server certificate for 127.0.0.1 and localhost with openssl (valid one day),
 * in a fresh temporary directory.
 */
export function makeTestCertificates(openssl = '/usr/bin/openssl'): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'nats-tls-'));
  const at = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync(openssl, args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    at('ca-key.pem'),
    '-out',
    at('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=HA License Sync test CA',
  );
  run('req', ...ec, '-keyout', at('server-key.pem'), '-out', at('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(at('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  run(
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.pem'),
    '-CAkey',
    at('ca-key.pem'),
    '-CAcreateserial',
    '-out',
    at('server.pem'),
    '-days',
    '1',
    '-extfile',
    at('server.ext'),
  );
  return { dir, caFile: at('ca.pem'), serverCertFile: at('server.pem'), serverKeyFile: at('server-key.pem') };
}

/** A random password of `length` letters (A-Z, a-z): nats-server reads it from the environment as a string. */
export function lettersOnly(length: number): string {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(length * 2)]
    .filter((b) => b < 208) // 4 × 52: no modulo bias
    .slice(0, length)
    .map((b) => letters[b % 52])
    .join('');
}

/** A private nats-server running the repository's permissions, with a random password per user. */
export interface SecureNatsServer {
  readonly server: PrivateNatsServer;
  readonly url: string;
  readonly passwords: Readonly<Record<BusUser, string>>;
  readonly certificates: TestCertificates | undefined;
  /** Stops the server and deletes its store, configuration and certificates. */
  dispose(): Promise<void>;
}

/** How a test's secure nats-server differs from the deployed one. */
export interface SecureNatsServerOptions {
  /** Require TLS, with certificates made for the test. */
  readonly tls?: boolean;
  /** Edits the copy of permissions.conf as an operator would (e.g. adds a team user with withTeamUser). */
  readonly permissions?: (conf: string) => string;
  /** More environment of the server (the passwords the edited file refers to). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Starts nats-server with a configuration that includes (a copy of) deploy/nats/permissions.conf, as the compose
 * configuration does, and optionally requires TLS with certificates made for the test.
 */
export async function startSecureNatsServer(options: SecureNatsServerOptions = {}): Promise<SecureNatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nats-conf-'));
  // nats-server resolves an include relative to the including file, so the copy sits beside it.
  const conf = readFileSync(PERMISSIONS_CONF, 'utf8');
  writeFileSync(join(dir, 'permissions.conf'), options.permissions ? options.permissions(conf) : conf);
  const certificates = options.tls ? makeTestCertificates() : undefined;
  const tls = certificates
    ? `tls {\n  cert_file: "${certificates.serverCertFile}"\n  key_file: "${certificates.serverKeyFile}"\n  timeout: 2\n}\n`
    : '';
  writeFileSync(join(dir, 'nats.conf'), `include ./permissions.conf\n${tls}`);
  // nats-server parses an environment variable's value as a configuration value (digits can turn it into a
  // number or a parse error), so the passwords are letters only: 24 of 52, about 136 bits.
  const passwords = Object.fromEntries(Object.keys(BUS_USERS).map((user) => [user, lettersOnly(24)])) as Record<BusUser, string>;
  const env = Object.fromEntries(Object.entries(BUS_USERS).map(([user, variable]) => [variable, passwords[user as BusUser]]));
  const cleanUp = () => {
    rmSync(dir, { recursive: true, force: true });
    if (certificates) rmSync(certificates.dir, { recursive: true, force: true });
  };
  let server: PrivateNatsServer;
  try {
    server = await startPrivateNatsServer({ configFile: join(dir, 'nats.conf'), env: { ...env, ...options.env } });
  } catch (error) {
    cleanUp();
    throw error;
  }
  return {
    server,
    url: server.url,
    passwords,
    certificates,
    async dispose() {
      await server.dispose();
      cleanUp();
    },
  };
}
