/**
 * examples/subscriber against the real services on a bus with the deployment's permissions: an operator grants team
 * "example" a durable consumer on SYNC_AGENT with the real `npm run bus -- grant-consumer`, the subscriber pulls from
 * it as the team's user, verifies every event with the published JWK Set, and ends a story (register, pair, grant,
 * dissociate) with the same sets as the HTTP read model.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { busNames } from '#shared/contracts';
import { busPassword, startSecureNatsServer, type BusUser, type SecureNatsServer } from '#shared/testing';
import { teamPasswordVariable, teamUserEntry, withTeamUser } from '#shared';
import { EffectiveSetSubscriber } from '../examples/subscriber/src/subscriber.js';
import { DAY_MS, REPO_ROOT, api, eventually, fromNow, startSystem, type Api, type RunningSystem } from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(180_000);

const TEAM = 'example';
const PASSWORD = busPassword(24);
const names = busNames(''); // the permissions are written for the production namespace; the server is ours alone
const run = promisify(execFile);

let bus: SecureNatsServer;
let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;
let subscriber: EffectiveSetSubscriber | undefined;
let granted: string;

beforeAll(async () => {
  // The user entry goes into the server's permissions before it starts, as an operator reloads nats-server with it.
  bus = await startSecureNatsServer({
    permissions: (conf) => withTeamUser(conf, teamUserEntry(names, TEAM, ['sync-agent'])),
    env: { [teamPasswordVariable(TEAM)]: PASSWORD },
  });
  const userEnv = (user: BusUser) => ({ NATS_URL: bus.url, NATS_USER: user, NATS_PASSWORD: bus.passwords[user] });
  const admin = { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...userEnv('bus-admin') } };
  await run(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'bus-setup.js')], admin);
  granted = (
    await run(
      process.execPath,
      [join(REPO_ROOT, 'dist', 'scripts', 'bus.js'), 'grant-consumer', '--team', TEAM, '--stream', 'SYNC_AGENT'],
      admin,
    )
  ).stdout;
  system = await startSystem('subscriber_example', {
    env: { BUS_NAMESPACE: '' },
    envOf: (service) => userEnv(service),
    readyTimeoutMs: 90_000,
  });
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);
}, 150_000);

afterAll(async () => {
  await subscriber?.stop();
  await system?.stop().catch(() => undefined);
  await bus?.dispose();
}, 60_000);

describe('the example subscriber', () => {
  it('depends on public packages and node:crypto only, not on this repository', () => {
    const source = readFileSync(join(REPO_ROOT, 'examples', 'subscriber', 'src', 'subscriber.ts'), 'utf8');
    const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['@nats-io/jetstream', '@nats-io/transport-node', 'node:crypto']);
    expect(
      Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'subscriber', 'package.json'), 'utf8')).dependencies),
    ).toEqual(['@nats-io/jetstream', '@nats-io/transport-node']);
  });

  it('the grant printed the user entry the server runs with', () => {
    expect(granted.trimEnd()).toBe(teamUserEntry(names, TEAM, ['sync-agent']));
  });

  it('ends a story (register, pair, grant, dissociate) with the same sets as GET /products/:serial/effective-licenses', async () => {
    const { register } = driver(() => system, 'acct-sub');
    const [p1, s1, p2, s2] = [await register(), await register(), await register(), await register()];
    const pairs = [];
    for (const [primarySerial, secondarySerial] of [
      [p1, s1],
      [p2, s2],
    ]) {
      const response = await pairing.post<{ pairId: string }>('/pairs', { primarySerial, secondarySerial });
      expect(response.status).toBe(201);
      pairs.push(response.body.pairId);
    }
    for (const [serial, sku] of [
      [p1, 'GATEWAY_AV'],
      [p1, 'STATEFUL_SYNC'],
      [p2, 'IPS'],
      [s2, 'CAPTURE_ATP'],
      [p1, 'GMS_PREVENTIVE_MAINTENANCE'],
    ] as const)
      expect((await licensing.post(`/products/${serial}/licenses`, { sku, expiresAt: fromNow(90 * DAY_MS) })).status).toBe(201);
    expect((await pairing.delete(`/pairs/${pairs[1]!}`)).status).toBe(200);

    subscriber = new EffectiveSetSubscriber({
      servers: bus.url,
      user: `team-${TEAM}`,
      password: PASSWORD,
      inboxPrefix: `_INBOX_team-${TEAM}`,
      stream: 'SYNC_AGENT',
      durable: `team-${TEAM}`,
      keySets: { 'sync-agent': `${system.syncAgent}/.well-known/event-signing-keys` },
    });
    await subscriber.start();

    const serials = [p1, s1, p2, s2];
    const http = await eventually(
      async () => {
        const sets = await Promise.all(
          serials.map(async (serial) => (await syncAgent.get(`/products/${serial}/effective-licenses`)).body),
        );
        const skus = sets.map((set: { licenses: { sku: string }[] }) => set.licenses.map((l) => l.sku).sort());
        // The story's end state reached the read model: S1 shares P1's licenses, S2 is standalone with its own.
        expect(skus[1]).toEqual(['GATEWAY_AV']);
        expect(skus[3]).toEqual(['CAPTURE_ATP']);
        expect(serials.map((serial) => subscriber!.sets.get(serial)?.set)).toEqual(sets);
        return sets;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: "the subscriber's sets to equal the HTTP read model" },
    );
    expect(http[1].role).toBe('secondary');
    expect(http[3].role).toBe('standalone');
    expect(subscriber.rejected).toEqual([]);
    expect(subscriber.accepted).toBeGreaterThan(serials.length);
  });
});
