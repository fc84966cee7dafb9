import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUS_USERS, busPassword, busPasswordEnvironment, type BusUser } from '../messaging/bus-users.js';
import { startPrivateNatsServer, type PrivateNatsServer } from './private-nats-server.js';

/** The repository's bus permissions, as deployed (deploy/nats/permissions.conf). */
export const PERMISSIONS_CONF = fileURLToPath(new URL('../../../../deploy/nats/permissions.conf', import.meta.url));

export { BUS_USERS, busPassword, type BusUser } from '../messaging/bus-users.js';

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
  const passwords = Object.fromEntries(BUS_USERS.map((user) => [user, busPassword(24)])) as Record<BusUser, string>;
  const env = busPasswordEnvironment(passwords);
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
