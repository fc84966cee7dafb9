/**
 * What a service prints while it waits for PostgreSQL or NATS: where it is looking, what went wrong, and what
 * usually fixes it (the command that starts the server locally, or the variables to set). Pure, so that each
 * message is tested without the failure.
 */
import type { PostgresSettings } from '../config/service-config.js';
import { sqlState } from '../database/postgres.js';

const README = 'see README, Quick start and Configuration';

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const nth = (attempt: number | undefined): string => (attempt === undefined ? '' : `, attempt ${attempt}`);
const codeOf = (error: unknown): string | undefined => sqlState(error) ?? (error as { code?: string } | null)?.code;

/** "waiting for PostgreSQL at host:port (…)" with the likely fix for `error`. */
export function postgresWaitMessage(settings: PostgresSettings, error: unknown, attempt?: number): string {
  const where = `PostgreSQL at ${settings.host}:${settings.port} (database ${settings.database}, user ${settings.user}${nth(attempt)})`;
  return `waiting for ${where}: ${errorText(error)}. ${postgresHint(error)}`;
}

function postgresHint(error: unknown): string {
  const code = codeOf(error);
  if (code === 'ECONNREFUSED')
    return (
      'Nothing answers there: start PostgreSQL (on Debian/Ubuntu `sudo pg_ctlcluster <version> main start`; ' +
      '`pg_lsclusters` lists the clusters), or point PGHOST/PGPORT or DATABASE_URL at it; ' +
      README
    );
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `The host name does not resolve: check PGHOST or DATABASE_URL; ${README}`;
  // 28P01 invalid_password, 28000 invalid_authorization_specification (unknown role, pg_hba.conf refusal).
  if (code === '28P01' || code === '28000')
    return `PostgreSQL refused the login: check PGUSER and PGPASSWORD (or DATABASE_URL); ${README}`;
  if (code === '57P03') return 'PostgreSQL is starting up; this resolves itself.';
  return README;
}

/** "waiting for NATS at url" with the likely fix for `error`. */
export function natsWaitMessage(servers: readonly string[], error: unknown, attempt?: number): string {
  return `waiting for NATS at ${servers.join(',')}${attempt === undefined ? '' : ` (attempt ${attempt})`}: ${errorText(error)}. ${natsHint(error)}`;
}

function natsHint(error: unknown): string {
  const text = errorText(error);
  if (/connection refused|ECONNREFUSED/i.test(text))
    return `Nothing answers there: start it with JetStream (\`nats-server -js\`), or point NATS_URL at it; ${README}`;
  if (/authori[sz]ation|authentication|user|password/i.test(text))
    return 'The server refused the login: check NATS_USER and NATS_PASSWORD; see README, Bus security';
  if (/tls|certificate|self.signed/i.test(text))
    return 'TLS failed: check NATS_TLS_CA_FILE (and the client certificate); see README, Bus security';
  return README;
}

/** "waiting for JetStream" (NATS answers, but JetStream does not) with the likely fix. */
export function jetStreamWaitMessage(what: string, servers: readonly string[], error: unknown, attempt?: number): string {
  const text = errorText(error);
  const hint = /not enabled|no responders|503/i.test(text)
    ? 'Is JetStream enabled? Start nats-server with `-js` (or `jetstream {}` in its configuration)'
    : /permission|authori[sz]ation/i.test(text)
      ? 'The bus user may not do this: run `npm run bus:setup` as the admin user first; see README, Bus security'
      : README;
  return `waiting for ${what} at ${servers.join(',')}${attempt === undefined ? '' : ` (attempt ${attempt})`}: ${text}. ${hint}`;
}
