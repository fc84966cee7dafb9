/**
 * `npm run demo`: one failover story against the running services (start them first with `npm start`).
 * Registers two appliances, licenses the Primary, pairs them, shows what the Secondary may use, then
 * dissociates and shows it again. Service URLs: PAIRING_URL, LICENSING_URL, SYNC_AGENT_URL. It calls as the
 * operator: OPERATOR_API_KEY, or the development key `npm start` generated in `.local/operator-api-key`.
 */
import { randomBytes } from 'node:crypto';
import { clientOperatorKey } from '#shared/tools';

const pairingUrl = process.env.PAIRING_URL ?? 'http://127.0.0.1:3001';
const licensingUrl = process.env.LICENSING_URL ?? 'http://127.0.0.1:3002';
const syncAgentUrl = process.env.SYNC_AGENT_URL ?? 'http://127.0.0.1:3003';

interface EffectiveSet {
  role: string;
  peerSerial: string | null;
  licenses: {
    sku: string;
    category: string;
    trial: boolean;
    expiresAt: string | null;
    sources: { from: string; serial: string }[];
  }[];
  statefulSync: { enabled: boolean; reason: string | null };
}

const operatorKey = clientOperatorKey(process.env, process.cwd());
if (operatorKey === null) {
  console.error('No operator key: set OPERATOR_API_KEY, or start the services once with `npm start` (it generates one).');
  process.exit(2);
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${operatorKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((error: Error) => {
    throw new Error(`${method} ${url} failed: ${error.message}. Are the services running (npm start)?`);
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url} → ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Polls until `accept` holds: the sync agent applies events asynchronously. */
async function waitFor<T>(what: string, read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function step(text: string): void {
  console.log(`\n▶ ${text}`);
}

function show(serial: string, set: EffectiveSet): void {
  const peer = set.peerSerial ? ` (peer ${set.peerSerial})` : '';
  console.log(
    `  ${serial}: ${set.role}${peer}; stateful sync ${set.statefulSync.enabled ? 'ON' : `off (${set.statefulSync.reason})`}`,
  );
  if (set.licenses.length === 0) console.log('    (no licenses)');
  for (const l of set.licenses) {
    const from = l.sources.map((s) => (s.from === 'own' ? 'own' : `from Primary ${s.serial}`)).join(', ');
    const expiry = l.expiresAt ? `until ${l.expiresAt.slice(0, 10)}` : 'perpetual';
    console.log(`    ${l.sku.padEnd(28)} ${l.category.padEnd(17)} ${expiry.padEnd(17)} ${l.trial ? 'trial ' : ''}${from}`);
  }
}

const serial = () => randomBytes(6).toString('hex').toUpperCase();
const primary = serial();
const secondary = serial();
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

step(`Register two NSA 2700 appliances on account demo-account: Primary ${primary}, Secondary ${secondary}`);
for (const s of [primary, secondary]) {
  await call('POST', `${pairingUrl}/products`, {
    serial: s,
    model: 'NSA 2700',
    firmwareVersion: '7.0.1',
    accountId: 'demo-account',
  });
}
console.log('  registered both');

step('Grant licenses to the Primary');
const grants = [
  { sku: 'SONICOS_ENHANCED' },
  { sku: 'SUPPORT_24X7', expiresAt: inDays(365) },
  { sku: 'GATEWAY_AV', expiresAt: inDays(365) },
  { sku: 'CAPTURE_ATP', expiresAt: inDays(30), trial: true },
  { sku: 'GMS_PREVENTIVE_MAINTENANCE', expiresAt: inDays(365) },
  { sku: 'STATEFUL_SYNC' },
];
for (const grant of grants) {
  await call('POST', `${licensingUrl}/products/${primary}/licenses`, grant);
  console.log(`  granted ${grant.sku}${grant.trial ? ' (trial)' : ''}`);
}

step('Associate them as a pair');
const pair = await call<{ pairId: string }>('POST', `${pairingUrl}/pairs`, {
  primarySerial: primary,
  secondarySerial: secondary,
});
console.log(`  pair ${pair.pairId}`);

step("The Secondary's effective licenses (shared from the Primary; consulting and STATEFUL_SYNC stay on the Primary)");
const shared = await waitFor(
  'the Secondary to receive the shared licenses',
  () => call<EffectiveSet>('GET', `${syncAgentUrl}/products/${secondary}/effective-licenses`),
  (set) => set.role === 'secondary' && set.licenses.length === 4 && set.statefulSync.enabled,
);
show(secondary, shared);
show(primary, await call<EffectiveSet>('GET', `${syncAgentUrl}/products/${primary}/effective-licenses`));

step('Dissociate the pair');
await call('DELETE', `${pairingUrl}/pairs/${pair.pairId}`);
const alone = await waitFor(
  'the Secondary to lose the shared licenses',
  () => call<EffectiveSet>('GET', `${syncAgentUrl}/products/${secondary}/effective-licenses`),
  (set) => set.role === 'standalone' && set.licenses.length === 0,
);
show(secondary, alone);
console.log('\nDone.');
