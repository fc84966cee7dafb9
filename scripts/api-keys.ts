/**
 * `npm run api-keys -- <command>`: manage API keys through the pairing service's API, as the operator.
 *
 *   generate                                         print a fresh random key (e.g. for OPERATOR_API_KEY); no service needed
 *   create --role <role> [--account <id>] --name <n> create a key; the secret is printed once
 *   list [--account <id>]                            list keys (never their secrets)
 *   revoke <keyId>                                   revoke a key (pairing at once; the others within API_KEY_CACHE_SECONDS)
 *
 * PAIRING_URL (default http://127.0.0.1:3001); the operator key is OPERATOR_API_KEY or the development key in
 * `.local/operator-api-key`. Exit 0 done; 1 refused by the service; 2 usage error or no service.
 */
import { parseArgs } from 'node:util';
import { API_KEY_ROLES, clientOperatorKey, generateApiKey } from '#shared/tools';

const USAGE = `usage: npm run api-keys -- generate
       npm run api-keys -- create --role <${API_KEY_ROLES.join('|')}> [--account <accountId>] --name <name>
       npm run api-keys -- list [--account <accountId>]
       npm run api-keys -- revoke <keyId>`;

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

interface KeyView {
  keyId: string;
  name: string;
  role: string;
  accountId: string | null;
  keyPrefix: string;
  createdAt: string;
  revokedAt: string | null;
  apiKey?: string;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const key = clientOperatorKey(process.env, process.cwd());
  if (key === null) usage('No operator key: set OPERATOR_API_KEY (or start the services once with `npm start`).');
  const base = process.env.PAIRING_URL ?? 'http://127.0.0.1:3001';
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  }).catch((error: Error) => usage(`${method} ${base}${path} failed: ${error.message}. Is the pairing service running?`));
  const text = await response.text();
  if (!response.ok) {
    console.error(`${method} ${path} → ${response.status}: ${text}`);
    process.exit(1);
  }
  return JSON.parse(text) as T;
}

function line(k: KeyView): string {
  return [
    k.keyId,
    k.role.padEnd(13),
    (k.accountId ?? '-').padEnd(20),
    `${k.keyPrefix}…`,
    k.revokedAt ? `revoked ${k.revokedAt}` : 'active',
    k.name,
  ].join('  ');
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { role: { type: 'string' }, account: { type: 'string' }, name: { type: 'string' } },
});
const [command, ...rest] = positionals;

if (command === undefined) usage('no command');

switch (command) {
  case 'generate':
    console.log(generateApiKey());
    break;
  case 'create': {
    if (!values.role || !values.name) usage('create needs --role and --name');
    const created = await call<KeyView>('POST', '/api-keys', {
      name: values.name,
      role: values.role,
      ...(values.account === undefined ? {} : { accountId: values.account }),
    });
    console.log(line(created));
    console.log(`\nAPI key (shown once, store it now): ${created.apiKey}`);
    break;
  }
  case 'list': {
    const query = values.account === undefined ? '' : `?accountId=${encodeURIComponent(values.account)}`;
    const { keys } = await call<{ keys: KeyView[] }>('GET', `/api-keys${query}`);
    for (const k of keys) console.log(line(k));
    if (keys.length === 0) console.log('(no keys besides the bootstrap operator key)');
    break;
  }
  case 'revoke': {
    if (rest.length !== 1) usage('revoke needs one keyId');
    console.log(line(await call<KeyView>('DELETE', `/api-keys/${encodeURIComponent(rest[0]!)}`)));
    break;
  }
  default:
    usage(`unknown command "${command}"`);
}
