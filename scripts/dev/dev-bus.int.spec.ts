/**
 * The development bus `npm start` runs (dev-bus.ts): the real nats-server with the configuration it writes, on a
 * free loopback port and a state directory of this file's own. Nothing on it is open to a client without a user:
 * an anonymous client cannot connect, so it can neither read, publish, answer requests nor reach $JS.API.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort } from '#shared/tools';
import { devBusFiles, findNatsServer, REPO_ROOT, startDevBus, type DevBus } from './dev-bus.js';

let stateDir: string;
let port: number;
let bus: DevBus;

const binary = findNatsServer();

beforeAll(async () => {
  if (!binary) throw new Error('nats-server is not installed (see dev-bus.ts for how)');
  stateDir = mkdtempSync(join(tmpdir(), 'dev-bus-'));
  port = await freePort();
  bus = await startDevBus({ binary, stateDir, port, repoRoot: REPO_ROOT });
});

afterAll(async () => {
  await bus?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The message a refused connection fails with; fails the test if it was accepted. */
async function refusal(options: Parameters<typeof connect>[0]): Promise<string> {
  try {
    const nc = await connect({ servers: bus.url, reconnect: false, ...options });
    await nc.close();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the connection was accepted');
}

describe('the development bus of npm start', () => {
  it('listens on loopback only, with the repository permissions and no user for anonymous clients', () => {
    const config = readFileSync(devBusFiles(stateDir).config, 'utf8');
    expect(config).toContain(`listen: "127.0.0.1:${port}"`);
    expect(config).toContain('include ./permissions.conf');
    expect(config).not.toMatch(/^\s*no_auth_user/im);
    expect(readFileSync(devBusFiles(stateDir).permissions, 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'deploy', 'nats', 'permissions.conf'), 'utf8'),
    );
  });

  it.each([
    ['no user at all', {}],
    ['a bus user with a wrong password', { user: 'bus-admin', pass: 'guess' }],
    ['a user that does not exist', { user: 'anonymous', pass: 'anonymous' }],
  ])('refuses a client with %s: it cannot subscribe, publish or reach $JS.API', async (_, auth) => {
    expect(await refusal(auth)).toMatch(/Authorization Violation/i);
  });

  it('lets each service in as its own user, and the admin administer JetStream', async () => {
    for (const user of ['pairing', 'licensing', 'sync-agent', 'bus-reader'] as const) {
      const nc = await connect({ servers: bus.url, user, pass: bus.passwords[user], reconnect: false });
      await nc.close();
    }
    const admin = await connect({ servers: bus.url, user: 'bus-admin', pass: bus.passwords['bus-admin'] });
    try {
      const info = await (await jetstreamManager(admin)).getAccountInfo();
      expect(info.streams).toBe(0);
    } finally {
      await admin.close();
    }
  });

  it('keeps the generated passwords private (0600) and the same across restarts', async () => {
    const file = devBusFiles(stateDir).passwords;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    const before = readFileSync(file, 'utf8');
    await bus.stop();
    bus = await startDevBus({ binary: binary!, stateDir, port, repoRoot: REPO_ROOT });
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(await refusal({})).toMatch(/Authorization Violation/i);
  });
});
