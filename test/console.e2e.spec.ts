/**
 * The web console in a real browser (Debian's Chromium driven by playwright-core) against the real services: sign
 * in, a pair turning red when its Primary's base OS license is revoked and green again with a new one, a revocation
 * on the pair page, the "as of" slider before a dissociation, upcoming expiries, a dead letter replayed by an
 * operator; an account admin and a reader finding the pairs that are not ready and why, the expiries and a past
 * date, within their account only; who made each change in the pair's history; what a reader cannot do.
 *
 * Each page is saved as a PNG in CONSOLE_SCREENSHOTS_DIR (default test-output/console/, git-ignored);
 * `npm run console:screenshots` writes them to docs/screenshots/ instead.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { busNames } from '#shared/contracts';
import { driver } from './support/driver.js';
import { storeFixedCauseDeadLetter } from './support/dead-letters.js';
import {
  DAY_MS,
  NATS_URL,
  REPO_ROOT,
  TEST_OPERATOR_KEY,
  api,
  eventually,
  fromNow,
  randomSerial,
  startSystem,
  type Api,
  type Json,
  type RunningSystem,
} from './support/system.js';

jest.setTimeout(90_000);

/** Debian's Chromium (`.ci/run` installs it); CHROMIUM_PATH picks another. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The flags that keep Chromium quiet and working as root on these machines. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS_DIR ?? join(REPO_ROOT, 'test-output', 'console');
const UI_TIMEOUT_MS = 20_000;

let system: RunningSystem;
let pairing: Api;
let licensing: Api;
let syncAgent: Api;
let context: BrowserContext;
let profile: string;
const mine = `acct-console-${randomUUID().slice(0, 6)}`;
const theirs = `acct-console-other-${randomUUID().slice(0, 6)}`;

/** An associated pair of `accountId`, with its units. */
interface TestPair {
  readonly pairId: string;
  readonly primary: string;
  readonly secondary: string;
}

/** The stories as operators of this account and of another one. */
const ours = driver(() => system, mine);
const others = driver(() => system, theirs);

/** A license of `sku` on `serial` expiring in `days` days. */
function grant(serial: string, sku: string, days: number): Promise<Json> {
  return ours.grant(serial, sku, { expiresAt: fromNow(days * DAY_MS) });
}

/** Waits until the Secondary's effective set (now) holds `sku` or not. */
function secondaryHolds(serial: string, sku: string, holds = true) {
  return eventually(
    async () => {
      const response = await syncAgent.get<Json>(`/products/${serial}/effective-licenses`);
      return response.status === 200 && (response.body.licenses as Json[]).some((l) => l.sku === sku) === holds;
    },
    { timeoutMs: UI_TIMEOUT_MS, intervalMs: 100, description: `${serial} ${holds ? 'to hold' : 'to lose'} ${sku}` },
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function signIn(key: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${system.syncAgent}/console/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Fleet readiness' }).waitFor({ timeout: UI_TIMEOUT_MS });
  return page;
}

/** The tile of a pair on the fleet grid. */
const tile = (page: Page, pairId: string) => page.locator(`li[data-pair-id="${pairId}"]`);

let healthy: TestPair;
let warned: TestPair;
let foreign: TestPair;
/** A pair of `mine` that the account admin associated; its units hold no base OS license, so it is not ready. */
let unlicensed: TestPair;
let ended: TestPair & { dissociatedAt: string; grantedAt: string };
let baseLicense: string;
let revokable: string;
let expiringSoon: string;
let readerKey: string;
let admin: { keyId: string; apiKey: string };

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium), as .ci/run does`);
  system = await startSystem('console');
  pairing = api(system.pairing);
  licensing = api(system.licensing);
  syncAgent = api(system.syncAgent);

  healthy = await ours.pair();
  baseLicense = (await grant(healthy.primary, 'SONICOS_ENHANCED', 300)).licenseId;
  revokable = (await grant(healthy.primary, 'GATEWAY_AV', 60)).licenseId;
  await grant(healthy.primary, 'STATEFUL_SYNC', 300);
  warned = await ours.pair();
  await grant(warned.primary, 'SONICOS_ENHANCED', 300);
  expiringSoon = (await grant(warned.primary, 'SUPPORT_24X7', 12)).licenseId;
  foreign = await others.pair();
  await grant(foreign.primary, 'SONICOS_ENHANCED', 300);
  await grant(foreign.primary, 'IPS', 45);

  const created = await pairing.post<Json>('/api-keys', {
    name: 'console account admin',
    role: 'account-admin',
    accountId: mine,
  });
  expect(created.status).toBe(201);
  admin = { keyId: created.body.keyId, apiKey: created.body.apiKey };
  unlicensed = await driver(() => system, mine, admin.apiKey).pair();
  await grant(unlicensed.primary, 'GATEWAY_AV', 200);

  // A pair that shared a license, then ended.
  const pair = await ours.pair();
  const granted = await grant(pair.primary, 'CAPTURE_ATP', 80);
  await secondaryHolds(pair.secondary, 'CAPTURE_ATP');
  // Far enough apart that the slider (one-second steps) can stop between the grant and the dissociation.
  await eventually(() => Date.now() - Date.parse(granted.grantedAt as string) > 3_000, {
    timeoutMs: 5_000,
    description: 'three seconds after the grant',
  });
  const dissociated = await pairing.delete<Json>(`/pairs/${pair.pairId}`);
  expect(dissociated.status).toBe(200);
  await secondaryHolds(pair.secondary, 'CAPTURE_ATP', false);
  ended = { ...pair, dissociatedAt: dissociated.body.dissociatedAt, grantedAt: granted.grantedAt };

  const reader = await pairing.post<Json>('/api-keys', { name: 'console reader', role: 'reader', accountId: mine });
  expect(reader.status).toBe(201);
  readerKey = reader.body.apiKey;

  profile = mkdtempSync(join(tmpdir(), 'console-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await system?.stop();
});

describe('the console, as an operator', () => {
  let page: Page;

  beforeAll(async () => {
    page = await signIn(TEST_OPERATOR_KEY);
  });

  it('signs in and shows every account’s pairs, green, amber for a warning', async () => {
    await tile(page, healthy.pairId).and(page.locator('[data-status="ready"]')).waitFor({ timeout: UI_TIMEOUT_MS });
    await tile(page, warned.pairId).and(page.locator('[data-status="warning"]')).waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(tile(page, warned.pairId).textContent()).resolves.toContain('EXPIRING_SOON SUPPORT_24X7');
    await tile(page, foreign.pairId).waitFor();
    await expect(page.getByRole('heading', { name: `Account ${theirs}` }).count()).resolves.toBe(1);
    // The key is kept for this tab only: one sessionStorage entry, no localStorage, no cookie.
    expect(await page.evaluate('Object.keys(sessionStorage).length')).toBe(1);
    expect(await page.evaluate('localStorage.length + document.cookie.length')).toBe(0);
    await screenshot(page, 'fleet');
  });

  it('turns a pair red when its Primary’s base OS license is revoked, and green again when a new one is granted (a revoked license cannot be renewed)', async () => {
    expect((await licensing.delete(`/licenses/${baseLicense}`)).status).toBe(200);
    const red = tile(page, healthy.pairId).and(page.locator('[data-status="not-ready"]'));
    await red.waitFor({ timeout: UI_TIMEOUT_MS });
    const badge = red.locator('li.badge', { hasText: 'NO_BASE_LICENSE' });
    await expect(badge.getAttribute('title')).resolves.toContain(
      `The Secondary ${healthy.secondary} has no usable base OS license`,
    );
    await screenshot(page, 'fleet-not-ready');

    const renewal = await licensing.post<Json>(`/licenses/${baseLicense}/renewals`, { expiresAt: fromNow(400 * DAY_MS) });
    expect({ status: renewal.status, code: renewal.body.code }).toEqual({ status: 409, code: 'LICENSE_REVOKED' });
    await grant(healthy.primary, 'SONICOS_ENHANCED', 300);
    await tile(page, healthy.pairId).and(page.locator('[data-status="ready"]')).waitFor({ timeout: UI_TIMEOUT_MS });
  });

  it('turns a pair red while its readiness cannot be established (licensing down), and green again', async () => {
    await system.kill('licensing', 'SIGTERM');
    const red = tile(page, healthy.pairId).and(page.locator('[data-status="not-ready"]'));
    await red.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(red.textContent()).resolves.toContain('PRODUCER_UNREACHABLE');
    system.spawn('licensing');
    await system.waitUntilHealthy();
    await tile(page, healthy.pairId).and(page.locator('[data-status="ready"]')).waitFor({ timeout: UI_TIMEOUT_MS });
  });

  it('turns an amber pair green when the license about to expire is renewed', async () => {
    const renewed = await licensing.post(`/licenses/${expiringSoon}/renewals`, { expiresAt: fromNow(200 * DAY_MS) });
    expect(renewed.status).toBe(201);
    await tile(page, warned.pairId).and(page.locator('[data-status="ready"]')).waitFor({ timeout: UI_TIMEOUT_MS });
  });

  it('shows both units’ sets with provenance, and a revocation of the Primary’s license on both and in the timeline', async () => {
    await tile(page, healthy.pairId).getByRole('link').click();
    const secondary = page.locator(`section.unit[data-serial="${healthy.secondary}"]`);
    const shared = secondary.locator('tr[data-sku="GATEWAY_AV"]');
    await shared.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(shared.textContent()).resolves.toContain(`shared from Primary ${healthy.primary}`);
    await expect(page.locator('section.readiness').textContent()).resolves.toContain('Stateful sync on');

    expect((await licensing.delete(`/licenses/${revokable}`)).status).toBe(200);
    await shared.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    await page
      .locator('table.events tr', { hasText: 'revoked' })
      .filter({ hasText: 'GATEWAY_AV' })
      .filter({ hasText: 'bootstrap operator key' })
      .waitFor({ timeout: UI_TIMEOUT_MS });
    // Both units lost it together, so the Secondary still covers everything its Primary has: the pair stays ready.
    await expect(page.locator('section.readiness').getAttribute('data-status')).resolves.toBe('ready');
    await screenshot(page, 'pair');
  });

  it('moves the "as of" slider to before a dissociation and shows the licenses the Secondary shared then', async () => {
    await page.goto(`${system.syncAgent}/console/#/pairs/${ended.pairId}`);
    const secondary = page.locator(`section.unit[data-serial="${ended.secondary}"]`);
    await secondary.getByText('No license in effect.').waitFor({ timeout: UI_TIMEOUT_MS });
    const slider = page.getByRole('slider', { name: 'As of' });
    const before = Math.round((Date.parse(ended.grantedAt) + Date.parse(ended.dissociatedAt)) / 2);
    await slider.fill(String(before));
    const shared = secondary.locator('tr[data-sku="CAPTURE_ATP"]');
    await shared.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(shared.textContent()).resolves.toContain(`shared from Primary ${ended.primary}`);
    await expect(secondary.locator('h3').textContent()).resolves.toContain('as of');
    // Who associated and dissociated the pair, from pairing's history.
    for (const change of ['associated', 'dissociated'])
      await page
        .locator('table.events tr', { hasText: change })
        .filter({ hasText: 'pair' })
        .filter({ hasText: 'bootstrap operator key' })
        .first()
        .waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, 'pair-as-of');
    await page.getByRole('button', { name: 'Now' }).click();
    await shared.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  });

  it('charts the expiries of the next 90 days with the list behind them', async () => {
    await page.getByRole('link', { name: 'Upcoming expiries' }).click();
    const list = page.locator('table.expiries');
    await list.locator('tr', { hasText: 'IPS' }).filter({ hasText: foreign.primary }).waitFor({ timeout: UI_TIMEOUT_MS });
    await list.locator('tr', { hasText: 'CAPTURE_ATP' }).filter({ hasText: ended.primary }).waitFor();
    // Renewed to 200 days, and 300 days away: beyond the chart.
    await expect(list.textContent()).resolves.not.toMatch(/SUPPORT_24X7|SONICOS_ENHANCED/);
    await expect(page.locator('figure.chart svg rect.expiry-bar').count()).resolves.toBe(13);
    await screenshot(page, 'expiries');
  });

  it('lists a dead letter with its reason and replays it', async () => {
    const letter = await deadLetterOfFixedCause();
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const row = page.locator(`tr[data-letter-id="${letter.id}"]`);
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(row.textContent()).resolves.toContain('UNKNOWN_EVENT_TYPE');
    await screenshot(page, 'dead-letters');
    await row.getByRole('button', { name: `Replay dead letter ${letter.id}` }).click();
    await page.getByText(`Dead letter ${letter.id} was replayed.`).waitFor({ timeout: UI_TIMEOUT_MS });
    await row.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    expect((await syncAgent.get(`/products/${letter.serial}/effective-licenses`)).status).toBe(200);
  });
});

describe('the console, as an auditor', () => {
  it('lists dead letters but offers no replay', async () => {
    const auditor = await pairing.post<Json>('/api-keys', { name: 'console auditor', role: 'auditor' });
    expect(auditor.status).toBe(201);
    const letter = await deadLetterOfFixedCause();
    const page = await signIn(auditor.body.apiKey as string);
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.locator(`tr[data-letter-id="${letter.id}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.getByRole('button', { name: /Replay/ }).count()).toBe(0);
    await page.close();
  });
});

/**
 * What an account-scoped key (an account admin or a reader) finds in the console, within its account only: the pairs
 * that are not ready and why, who associated one, the expiries of the next 90 days, and a pair's licenses on a past
 * date; another account's pair is not found.
 */
async function findsItsAccountsViews(page: Page, role: 'account-admin' | 'reader'): Promise<void> {
  // The fleet: its account's pairs only; narrowed to those not ready, with why.
  await tile(page, healthy.pairId).waitFor({ timeout: UI_TIMEOUT_MS });
  await tile(page, warned.pairId).waitFor();
  expect(await tile(page, foreign.pairId).count()).toBe(0);
  expect(await page.getByRole('heading', { name: `Account ${theirs}` }).count()).toBe(0);
  await page.getByLabel('Only pairs that are not ready').check();
  const red = tile(page, unlicensed.pairId).and(page.locator('[data-status="not-ready"]'));
  await red.waitFor({ timeout: UI_TIMEOUT_MS });
  await expect(red.textContent()).resolves.toContain('NO_BASE_LICENSE');
  await tile(page, healthy.pairId).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  await screenshot(page, `${role}-not-ready`);

  // The pair page says why in words, and who associated the pair (the account admin's key id, not its secret).
  await red.getByRole('link').click();
  await page
    .locator('section.readiness[data-status="not-ready"]')
    .getByText(`The Secondary ${unlicensed.secondary} has no usable base OS license`)
    .waitFor({ timeout: UI_TIMEOUT_MS });
  await page
    .locator('table.events tr', { hasText: 'associated' })
    .filter({ hasText: `key ${admin.keyId.slice(0, 8)}` })
    .waitFor({ timeout: UI_TIMEOUT_MS });
  await expect(page.content()).resolves.not.toContain(admin.apiKey);
  await screenshot(page, `${role}-pair`);

  // The expiries of the next 90 days: its account's, not another's.
  await page.getByRole('link', { name: 'Upcoming expiries' }).click();
  const list = page.locator('table.expiries');
  await list.locator('tr', { hasText: 'CAPTURE_ATP' }).filter({ hasText: ended.primary }).waitFor({ timeout: UI_TIMEOUT_MS });
  await expect(list.textContent()).resolves.not.toContain(foreign.primary);

  // A pair's licenses on a past date: before the dissociation, the Secondary held the Primary's CAPTURE_ATP.
  await page.goto(`${system.syncAgent}/console/#/pairs/${ended.pairId}`);
  const secondary = page.locator(`section.unit[data-serial="${ended.secondary}"]`);
  await secondary.getByText('No license in effect.').waitFor({ timeout: UI_TIMEOUT_MS });
  await page
    .getByRole('slider', { name: 'As of' })
    .fill(String(Math.round((Date.parse(ended.grantedAt) + Date.parse(ended.dissociatedAt)) / 2)));
  await secondary.locator('tr[data-sku="CAPTURE_ATP"]').waitFor({ timeout: UI_TIMEOUT_MS });

  // Another account's pair answers like an unknown one.
  await page.goto(`${system.syncAgent}/console/#/pairs/${foreign.pairId}`);
  await page.getByRole('heading', { name: 'Pair not found' }).waitFor({ timeout: UI_TIMEOUT_MS });
  await page.goto(`${system.syncAgent}/console/#/fleet`);
}

describe('the console, as an account admin', () => {
  it('finds its account’s pairs that are not ready and why, the 90-day expiries and a pair’s licenses on a past date; never another account’s', async () => {
    const page = await signIn(admin.apiKey);
    await findsItsAccountsViews(page, 'account-admin');
    await page.goto(`${system.syncAgent}/console/#/dead-letters`);
    await page.getByText('only operator and auditor keys may list them').first().waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.getByRole('button', { name: /Replay/ }).count()).toBe(0);
    await page.close();
  });
});

describe('the console, as a reader of one account', () => {
  let page: Page;

  beforeAll(async () => {
    page = await signIn(readerKey);
  });

  it('sees the same views as the account admin, within its account only', async () => {
    await findsItsAccountsViews(page, 'reader');
  });

  it('sees no dead letter (they hold every account’s events) and no replay button', async () => {
    await page.goto(`${system.syncAgent}/console/#/dead-letters`);
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.getByText('only operator and auditor keys may list them').first().waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.getByRole('button', { name: /Replay/ }).count()).toBe(0);
    await screenshot(page, 'reader-dead-letters');
  });

  it('cannot replay or change anything, even by sending the requests itself from the console’s page', async () => {
    const letter = await deadLetterOfFixedCause();
    const statuses = await page.evaluate(
      async ({ key, letterId, licenseId, pairId }) => {
        const send = async (method: string, path: string) =>
          (await fetch(path, { method, headers: { authorization: `Bearer ${key}` } })).status;
        return {
          replay: await send('POST', `/dead-letters/${letterId}/replay`),
          revoke: await send('DELETE', `/console/api/licensing/licenses/${licenseId}`),
          dissociate: await send('DELETE', `/console/api/pairing/pairs/${pairId}`),
        };
      },
      { key: readerKey, letterId: letter.id, licenseId: expiringSoon, pairId: healthy.pairId },
    );
    // The sync agent refuses a reader's replay; the console proxy forwards no change to pairing or licensing.
    expect(statuses).toEqual({ replay: 403, revoke: 405, dissociate: 405 });
    expect((await licensing.get<Json>(`/licenses/${expiringSoon}`)).body.status).toBe('active');
    expect((await pairing.get<Json>(`/pairs/${healthy.pairId}`)).body.status).toBe('associated');
  });
});

/**
 * A dead letter whose cause has since been fixed (as in dead-letters.e2e.spec.ts): a ProductRegistered that an
 * earlier deployment refused, signed by pairing, in the sync agent's dead-letter stream. Resolves once it is listed.
 */
async function deadLetterOfFixedCause(): Promise<{ id: number; serial: string }> {
  const names = busNames(system.namespace);
  const nc: NatsConnection = await connect({ servers: NATS_URL });
  try {
    const serial = randomSerial();
    const { streamSequence } = await storeFixedCauseDeadLetter(jetstream(nc), names, serial, mine);
    const letter = await eventually(
      async () => {
        const items = (await syncAgent.get<Json>('/dead-letters?reason=UNKNOWN_EVENT_TYPE')).body.items as Json[];
        return items.find((l) => l.streamSequence === streamSequence);
      },
      { timeoutMs: UI_TIMEOUT_MS, description: 'the dead letter to be listed' },
    );
    return { id: letter.id as number, serial };
  } finally {
    await nc.close();
  }
}
