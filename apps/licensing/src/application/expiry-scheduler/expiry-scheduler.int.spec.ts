import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { handleCommand, type Clock, type EventStore, type LicensingEvent, type StoredEvent } from '#shared';
import { createTestEventStore, eventually, sampleEvent, testEnvelope, type TestEventStore } from '#shared/testing';
import { licenseDecider } from '../../domain/license/license.decide.js';
import { licenseStreamId } from '../../domain/license/license.events.js';
import {
  AddHandledEventSource1764200000001,
  AddLicenseAccount1766000000001,
  CreateLicensesView1764000000002,
} from '../../infrastructure/migrations.js';
import { licensesOfProduct, projectLicense } from '../licenses.js';
import { LicenseTransfers } from '../transfer-licenses/license-transfers.js';
import { ExpiryScheduler, nextDueInstant } from './expiry-scheduler.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WINDOW = 30;

let db: TestEventStore;
let store: EventStore;

beforeAll(async () => {
  db = await createTestEventStore('licensing_expiry', [
    CreateLicensesView1764000000002,
    AddHandledEventSource1764200000001,
    AddLicenseAccount1766000000001,
  ]);
  store = db.store;
});

afterAll(async () => {
  await db?.dispose();
});

/** A clock the test moves by hand. */
function manualClock(start: Date): Clock & { set(at: Date): void } {
  let current = start;
  return { now: () => current, set: (at) => (current = at) };
}

const silent = () => undefined;

function serial(): string {
  return randomUUID().replaceAll('-', '').slice(0, 12).toUpperCase();
}

async function grant(clock: Clock, onSerial: string, expiresAt: Date | null): Promise<string> {
  const licenseId = randomUUID();
  await handleCommand({
    store,
    decider: licenseDecider,
    streamId: licenseStreamId(licenseId),
    command: {
      type: 'GrantLicense',
      data: { licenseId, serial: onSerial, sku: 'GATEWAY_AV', expiresAt: expiresAt?.toISOString() ?? null, trial: false },
      context: { product: { serial: onSerial, model: 'NSA 2700' } },
      metadata: { now: clock.now() },
    },
    afterAppend: projectLicense,
  });
  return licenseId;
}

async function renew(clock: Clock, licenseId: string, expiresAt: Date): Promise<void> {
  await handleCommand({
    store,
    decider: licenseDecider,
    streamId: licenseStreamId(licenseId),
    command: { type: 'RenewLicense', data: { licenseId, expiresAt: expiresAt.toISOString() }, metadata: { now: clock.now() } },
    afterAppend: projectLicense,
  });
}

async function revoke(clock: Clock, licenseId: string): Promise<void> {
  await handleCommand({
    store,
    decider: licenseDecider,
    streamId: licenseStreamId(licenseId),
    command: { type: 'RevokeLicense', data: { licenseId }, metadata: { now: clock.now() } },
    afterAppend: projectLicense,
  });
}

/** The license's events as `type/change` steps. */
async function steps(licenseId: string): Promise<string[]> {
  const events = await store.readStream<LicensingEvent>(licenseStreamId(licenseId));
  return events.map((e: StoredEvent<LicensingEvent>) =>
    e.type === 'EntitlementChanged' ? (e.data as { change: string }).change : 'expiring-soon',
  );
}

interface ViewRow {
  serial: string;
  warned_for: Date | null;
  expiry_recorded_for: Date | null;
  version: number;
}

async function viewRow(licenseId: string): Promise<ViewRow> {
  const rows: ViewRow[] = await db.dataSource.query(
    'SELECT serial, warned_for, expiry_recorded_for, version FROM licenses_view WHERE license_id = $1',
    [licenseId],
  );
  return rows[0]!;
}

// Each test works in a time of its own (years apart), so licenses of one test are never due in another.
function era(year: number): Date {
  return new Date(`${year}-01-01T00:00:00.000Z`);
}

describe('the expiry scheduler (one round, with a clock the test moves)', () => {
  it('catches up on every expiry passed and every expiry in the window, once, and says what is next', async () => {
    const t0 = era(2031);
    const clock = manualClock(t0);
    const onSerial = serial();
    const expiresSoon = await grant(clock, onSerial, new Date(t0.getTime() + HOUR));
    const expiresInTwoDays = await grant(clock, onSerial, new Date(t0.getTime() + 2 * DAY));
    const expiresInFortyDays = await grant(clock, onSerial, new Date(t0.getTime() + 40 * DAY));
    const perpetual = await grant(clock, onSerial, null);
    const scheduler = new ExpiryScheduler(store, clock, { windowDays: WINDOW, log: silent });

    // Down for three hours: the first license expired meanwhile, without its warning ever being due at a round.
    clock.set(new Date(t0.getTime() + 3 * HOUR));
    const first = await scheduler.runRound();

    expect(first).toEqual(
      expect.objectContaining({ expired: 1, warned: 1, failed: 0, more: false, nextDueAt: new Date(t0.getTime() + 2 * DAY) }),
    );
    expect(await steps(expiresSoon)).toEqual(['granted', 'expired']);
    expect(await steps(expiresInTwoDays)).toEqual(['granted', 'expiring-soon']);
    expect(await steps(expiresInFortyDays)).toEqual(['granted']);
    expect(await steps(perpetual)).toEqual(['granted']);
    expect(await viewRow(expiresSoon)).toEqual(
      expect.objectContaining({ warned_for: null, expiry_recorded_for: new Date(t0.getTime() + HOUR), version: 2 }),
    );
    expect(await viewRow(expiresInTwoDays)).toEqual(
      expect.objectContaining({ warned_for: new Date(t0.getTime() + 2 * DAY), expiry_recorded_for: null, version: 2 }),
    );

    const again = await scheduler.runRound();
    expect(again).toEqual(expect.objectContaining({ expired: 0, warned: 0 }));

    // Ten days on, the forty-day license enters the window; the two-day one has expired.
    clock.set(new Date(t0.getTime() + 10 * DAY));
    expect(await scheduler.runRound()).toEqual(
      expect.objectContaining({ expired: 1, warned: 1, nextDueAt: new Date(t0.getTime() + 40 * DAY) }),
    );
    expect(await steps(expiresInTwoDays)).toEqual(['granted', 'expiring-soon', 'expired']);
    expect(await steps(expiresInFortyDays)).toEqual(['granted', 'expiring-soon']);
  });

  it('plans the next wake-up at the entry into the warning window when that comes before any expiry', async () => {
    const t0 = era(2032);
    const clock = manualClock(t0);
    await grant(clock, serial(), new Date(t0.getTime() + 45 * DAY));

    expect(await store.transaction((tx) => nextDueInstant(tx, t0, WINDOW))).toEqual(new Date(t0.getTime() + 15 * DAY));
  });

  it('still plans the wake-up for an expiry that passes while the round runs', async () => {
    const t0 = era(2030); // before every other test's licenses
    const clock = manualClock(t0);
    const expiresAt = new Date(t0.getTime() + 100 * DAY);
    await grant(clock, serial(), expiresAt);
    // The round starts a millisecond before the expiry; every later reading of the clock is past it.
    let readings = 0;
    const racing: Clock = { now: () => new Date(expiresAt.getTime() + (readings++ === 0 ? -1 : 1)) };
    const scheduler = new ExpiryScheduler(store, racing, { windowDays: WINDOW, log: silent });

    expect(await scheduler.runRound()).toEqual(expect.objectContaining({ expired: 0, nextDueAt: expiresAt }));
  });

  it('records a second expiry after a renewal of an expired license, and warns again for a new expiry', async () => {
    const t0 = era(2033);
    const clock = manualClock(t0);
    const licenseId = await grant(clock, serial(), new Date(t0.getTime() + DAY));
    const scheduler = new ExpiryScheduler(store, clock, { windowDays: WINDOW, log: silent });
    await scheduler.runRound(); // warned
    clock.set(new Date(t0.getTime() + 2 * DAY));
    await scheduler.runRound(); // expired

    await renew(clock, licenseId, new Date(t0.getTime() + 5 * DAY));
    await scheduler.runRound(); // warned for the new expiry
    clock.set(new Date(t0.getTime() + 6 * DAY));
    await scheduler.runRound(); // expired again
    await scheduler.runRound();

    expect(await steps(licenseId)).toEqual(['granted', 'expiring-soon', 'expired', 'renewed', 'expiring-soon', 'expired']);
  });

  it('leaves revoked licenses alone', async () => {
    const t0 = era(2034);
    const clock = manualClock(t0);
    const licenseId = await grant(clock, serial(), new Date(t0.getTime() + 40 * DAY));
    await revoke(clock, licenseId);
    const scheduler = new ExpiryScheduler(store, clock, { windowDays: WINDOW, log: silent });

    clock.set(new Date(t0.getTime() + 20 * DAY));
    await scheduler.runRound();
    clock.set(new Date(t0.getTime() + 50 * DAY));
    await scheduler.runRound();

    expect(await steps(licenseId)).toEqual(['granted', 'revoked']);
  });

  it('never emits twice when several instances run their rounds at once', async () => {
    const t0 = era(2035);
    const clock = manualClock(t0);
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) => grant(clock, serial(), new Date(t0.getTime() + (i + 1) * HOUR))),
    );
    const instances = Array.from({ length: 4 }, () => new ExpiryScheduler(store, clock, { windowDays: WINDOW, log: silent }));

    clock.set(new Date(t0.getTime() + DAY));
    const rounds = await Promise.all(instances.map((s) => s.runRound()));

    expect(rounds.reduce((n, r) => n + r.expired, 0)).toBe(20);
    expect(rounds.every((r) => r.failed === 0)).toBe(true);
    for (const id of ids) expect(await steps(id)).toEqual(['granted', 'expired']);
  });

  it('works through a backlog larger than one batch', async () => {
    const t0 = era(2036);
    const clock = manualClock(t0);
    await Promise.all(Array.from({ length: 7 }, (_, i) => grant(clock, serial(), new Date(t0.getTime() + (i + 1) * HOUR))));
    const scheduler = new ExpiryScheduler(store, clock, { windowDays: WINDOW, batchSize: 5, log: silent });

    clock.set(new Date(t0.getTime() + DAY));
    expect(await scheduler.runRound()).toEqual(expect.objectContaining({ expired: 5, more: true }));
    expect(await scheduler.runRound()).toEqual(expect.objectContaining({ expired: 2, more: false }));
  });
});

describe('the expiry scheduler (running, on the real clock)', () => {
  it('records an expiry within moments of its instant, woken by a grant, and stops promptly', async () => {
    const clock: Clock = { now: () => new Date() };
    const scheduler = new ExpiryScheduler(store, clock, { windowDays: WINDOW, log: silent });
    scheduler.start();
    try {
      const expiresAt = new Date(Date.now() + 1_500);
      const licenseId = await grant(clock, serial(), expiresAt);
      scheduler.nudge(expiresAt.toISOString());

      await eventually(async () => (await steps(licenseId)).includes('expiring-soon'), { timeoutMs: 1_000 });
      await eventually(async () => (await steps(licenseId)).includes('expired'), { timeoutMs: 5_000 });
      const [, , expired] = await store.readStream(licenseStreamId(licenseId));
      const lateness = Date.parse(expired!.occurredAt) - expiresAt.getTime();
      expect(lateness).toBeGreaterThanOrEqual(0);
      expect(lateness).toBeLessThan(1_000);
    } finally {
      const stopping = Date.now();
      await scheduler.stop();
      expect(Date.now() - stopping).toBeLessThan(1_000);
    }
  });
});

describe('the expiry scheduler (nudged by grants)', () => {
  /** Counts the rounds a running scheduler makes. */
  class CountingScheduler extends ExpiryScheduler {
    rounds = 0;
    override runRound() {
      this.rounds++;
      return super.runRound();
    }
  }

  it('sleeps on through grants whose warning window opens after its planned wake-up, and wakes for one that opens sooner', async () => {
    const clock: Clock = { now: () => new Date() };
    const scheduler = new CountingScheduler(store, clock, { windowDays: WINDOW, log: silent, maxSleepMs: 60_000 });
    scheduler.start();
    try {
      // Asleep once it has caught up on what earlier tests left due: no round for 300 ms.
      let asleep = -1;
      while (asleep !== scheduler.rounds) {
        asleep = scheduler.rounds;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      for (let i = 0; i < 20; i++) {
        const expiresAt = new Date(Date.now() + 365 * DAY);
        await grant(clock, serial(), expiresAt);
        scheduler.nudge(expiresAt.toISOString());
        scheduler.nudge(null); // perpetual: never due
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(scheduler.rounds).toBe(asleep);

      const soon = new Date(Date.now() + WINDOW * DAY + 500);
      const licenseId = await grant(clock, serial(), soon);
      scheduler.nudge(soon.toISOString());
      await eventually(async () => (await steps(licenseId)).includes('expiring-soon'), { timeoutMs: 3_000 });
      expect(scheduler.rounds).toBeGreaterThan(asleep);
    } finally {
      await scheduler.stop();
    }
  });
});

describe('license transfers on replacement', () => {
  function replacement(failedSerial: string, successorSerial: string) {
    const replacementSerial = serial();
    return testEnvelope(
      sampleEvent('ProductsAssociated', {
        pairId: randomUUID(),
        primarySerial: successorSerial,
        secondarySerial: replacementSerial,
        replaces: { pairId: randomUUID(), failedSerial, replacementSerial, successorSerial },
      }),
    );
  }

  it('moves every active license of the failed unit to its successor, once, and leaves revoked ones', async () => {
    const clock = manualClock(era(2037));
    const failed = serial();
    const successor = serial();
    const dated = await grant(clock, failed, new Date(era(2038).getTime()));
    const perpetual = await grant(clock, failed, null);
    const gone = await grant(clock, failed, null);
    await revoke(clock, gone);
    const unrelated = await grant(clock, serial(), null);
    const transfers = new LicenseTransfers(store, clock);
    const event = replacement(failed, successor);

    const from = [{ stream: 'PAIRING', seq: 7 }];
    expect(await transfers.handle([event], from)).toEqual([]);
    expect(await transfers.handle([event], from)).toEqual([]); // redelivered: the same message again

    const onSuccessor = await store.transaction((tx) => licensesOfProduct(tx, successor));
    const onFailed = await store.transaction((tx) => licensesOfProduct(tx, failed));
    expect(onSuccessor.map((l) => l.licenseId).sort()).toEqual([dated, perpetual].sort());
    expect(onFailed.map((l) => l.licenseId)).toEqual([gone]);
    expect(await steps(dated)).toEqual(['granted', 'transferred']);
    expect(await steps(unrelated)).toEqual(['granted']);
    const [, transferred] = await store.readStream(licenseStreamId(dated));
    expect(transferred!.data).toEqual(
      expect.objectContaining({
        change: 'transferred',
        transferredFrom: failed,
        license: expect.objectContaining({ serial: successor }),
      }),
    );
    expect(await viewRow(dated)).toEqual(expect.objectContaining({ serial: successor, version: 2 }));
  });

  it('changes nothing on a late redelivery, even after a new license was granted to the failed unit', async () => {
    const clock = manualClock(era(2037));
    const failed = serial();
    const successor = serial();
    await grant(clock, failed, null);
    const transfers = new LicenseTransfers(store, clock);
    const event = replacement(failed, successor);
    const from = [{ stream: 'PAIRING', seq: 7 }];
    await transfers.handle([event], from);

    const later = await grant(clock, failed, null);
    expect(await transfers.handle([event], from)).toEqual([]);

    expect(await steps(later)).toEqual(['granted']);
  });

  it('refuses a copy of a handled event from another stream position as REPLAYED, and changes nothing', async () => {
    const clock = manualClock(era(2037));
    const failed = serial();
    const transfers = new LicenseTransfers(store, clock);
    const event = replacement(failed, serial());
    await transfers.handle([event], [{ stream: 'PAIRING', seq: 7 }]);

    const later = await grant(clock, failed, null);
    expect(await transfers.handle([event], [{ stream: 'PAIRING', seq: 90 }])).toEqual([
      { index: 0, reason: 'REPLAYED', detail: `ProductsAssociated ${event.eventId} was already applied from PAIRING sequence 7` },
    ]);
    expect(await transfers.handle([event])).toEqual([expect.objectContaining({ index: 0, reason: 'REPLAYED' })]);
    expect(await steps(later)).toEqual(['granted']);
  });

  it('ignores an association that replaces nothing', async () => {
    const clock = manualClock(era(2037));
    const primary = serial();
    const licenseId = await grant(clock, primary, null);
    const transfers = new LicenseTransfers(store, clock);

    await transfers.handle([testEnvelope(sampleEvent('ProductsAssociated', { primarySerial: primary, replaces: null }))]);
    await transfers.handle([testEnvelope(sampleEvent('ProductsAssociated', { primarySerial: primary }))]);

    expect(await steps(licenseId)).toEqual(['granted']);
  });
});
