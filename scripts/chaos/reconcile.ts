/**
 * After the run: wait for quiet, resolve the writes that had no definite answer by asking the owning service,
 * check that the owning services hold exactly what the acknowledged writes made, that every stored event is on
 * its stream, and compare every product's effective set at the sync agent with the oracle.
 */
import pg from 'pg';
import type { JetStreamManager } from '@nats-io/jetstream';
import { eventIdOfMessageId } from '#shared';
import type { BusNames, EventSource } from '#shared/contracts';
import { request, type HttpOptions, type Reply } from './http.js';
import { compareFacts, expectedFacts, observedFacts, type ModelLicense, type ObservedSet } from './oracle.js';
import type { InboxEntry, ProducedEvent } from './readiness-oracle.js';
import type { PostgresServer } from '#shared/testing';
import type { ServiceName } from '#shared/tools';
import type { World } from './world.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface QuietState {
  readonly quiet: boolean;
  /** Events in each store the relay has not published yet. */
  readonly unpublished: Readonly<Record<string, number>>;
  /** Messages each durable consumer has not delivered or not had acknowledged yet. */
  readonly pending: Readonly<Record<string, number>>;
}

export interface Backends {
  readonly postgres: PostgresServer;
  readonly schemas: Readonly<Record<ServiceName, string>>;
  readonly jsm: () => Promise<JetStreamManager>;
  readonly names: BusNames;
}

/** The durable consumers that must catch up: the sync agent's two and licensing's on pairing. */
function durables(names: BusNames): { stream: string; durable: string }[] {
  return [
    { stream: names.stream('pairing'), durable: 'sync-agent' },
    { stream: names.stream('licensing'), durable: 'sync-agent' },
    { stream: names.stream('pairing'), durable: 'licensing' },
  ];
}

async function withClient<T>(server: PostgresServer, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...server, application_name: 'chaos-harness' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether every store is published and every durable consumer caught up, now. */
export async function quietState(backends: Backends): Promise<QuietState> {
  const unpublished: Record<string, number> = {};
  await withClient(backends.postgres, async (client) => {
    for (const [service, schema] of Object.entries(backends.schemas)) {
      const s = pg.escapeIdentifier(schema);
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM ${s}.events e
          WHERE NOT EXISTS (SELECT 1 FROM ${s}.relay_checkpoints c
                             WHERE (e.transaction_id, e.global_position) <= (c.transaction_id, c.global_position))`,
      );
      unpublished[service] = Number(rows[0]?.n ?? 0);
    }
  });
  const pending: Record<string, number> = {};
  const jsm = await backends.jsm();
  for (const { stream, durable } of durables(backends.names)) {
    const info = await jsm.consumers.info(stream, durable);
    pending[`${durable}@${stream}`] = info.num_pending + info.num_ack_pending;
  }
  const quiet = Object.values(unpublished).every((n) => n === 0) && Object.values(pending).every((n) => n === 0);
  return { quiet, unpublished, pending };
}

/** Polls until quiet twice in a row, printing progress; throws with the last state after `timeoutMs`. */
export async function waitForQuiet(backends: Backends, timeoutMs: number, log: (line: string) => void): Promise<number> {
  const started = Date.now();
  let lastPrint = 0;
  let quietOnce = false;
  let last: string;
  for (;;) {
    try {
      const state = await quietState(backends);
      last = `unpublished ${JSON.stringify(state.unpublished)}, pending ${JSON.stringify(state.pending)}`;
      if (state.quiet && quietOnce) return Date.now() - started;
      quietOnce = state.quiet;
    } catch (error) {
      last = (error as Error).message;
      quietOnce = false;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`not quiet after ${timeoutMs} ms: ${last}`);
    if (Date.now() - lastPrint > 5000) {
      log(`  waiting for quiet: ${last}`);
      lastPrint = Date.now();
    }
    await sleep(250);
  }
}

/** GET with retries while the service answers 5xx or not at all (the system should be up and quiet by now). */
async function read(http: HttpOptions, url: string, path: string): Promise<Reply> {
  let reply: Reply | undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    reply = await request(http, url, 'GET', path);
    if (reply.outcome === 'ok' || (reply.outcome === 'failed' && reply.status < 500)) return reply;
    await sleep(500);
  }
  return reply!;
}

async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

interface ProductView {
  firmwareVersion: string;
  pairId: string | null;
}
interface PairView {
  primarySerial: string;
  secondarySerial: string;
  status: 'associated' | 'dissociated';
}
interface LicenseView {
  licenseId: string;
  serial: string;
  sku: string;
  trial: boolean;
  expiresAt: string | null;
  status: string;
}

const sameInstant = (a: string | null, b: string | null) =>
  a === null || b === null ? a === b : Date.parse(a) === Date.parse(b);

/**
 * Resolves every write without a definite answer by reading the entity back from its owning service, so the
 * World holds the exact final state. `fivexx` counts how many of them had been answered 5xx and took effect anyway.
 */
export async function resolveUnknowns(
  world: World,
  http: HttpOptions,
  urls: Readonly<Record<ServiceName, string>>,
  mismatches: string[],
): Promise<{ tookEffect: number; didNot: number }> {
  let tookEffect = 0;
  let didNot = 0;
  for (const [serial, entry] of [...world.products]) {
    if (entry.registered === 'unknown') {
      const reply = await read(http, urls.pairing, `/products/${serial}`);
      if (reply.status === 200) {
        entry.registered = 'yes';
        tookEffect++;
      } else if (reply.status === 404) {
        world.products.delete(serial);
        didNot++;
      } else mismatches.push(`product ${serial}: registration unresolved (${reply.status} ${reply.error ?? ''})`);
    }
    if (entry.firmwareCandidates) {
      const reply = await read(http, urls.pairing, `/products/${serial}`);
      const firmware = (reply.body as ProductView | null)?.firmwareVersion;
      const [before, after] = entry.firmwareCandidates as [string, string];
      if (firmware === after) {
        entry.product = { ...entry.product, firmwareVersion: after };
        tookEffect++;
      } else if (firmware === before) didNot++;
      else mismatches.push(`product ${serial}: firmware ${firmware} is neither ${before} nor ${after}`);
      entry.firmwareCandidates = null;
    }
  }
  for (const attempt of world.uncertainPairs.splice(0)) {
    const reply = await read(http, urls.pairing, `/products/${attempt.primarySerial}`);
    const pairId = (reply.body as ProductView | null)?.pairId ?? null;
    if (pairId === null) {
      didNot++;
      continue;
    }
    const pair = (await read(http, urls.pairing, `/pairs/${pairId}`)).body as PairView | null;
    if (pair?.primarySerial === attempt.primarySerial && pair.secondarySerial === attempt.secondarySerial) {
      world.pairs.set(pairId, { pair: { pairId, ...attempt, status: pair.status }, busy: false, frozen: false });
      tookEffect++;
    } else mismatches.push(`product ${attempt.primarySerial}: in pair ${pairId}, which no request of the run formed`);
  }
  for (const entry of world.pairs.values()) {
    if (!entry.frozen) continue;
    const pair = (await read(http, urls.pairing, `/pairs/${entry.pair.pairId}`)).body as PairView | null;
    if (pair?.status === 'dissociated') {
      entry.pair = { ...entry.pair, status: 'dissociated' };
      tookEffect++;
    } else if (pair?.status === 'associated') didNot++;
    else mismatches.push(`pair ${entry.pair.pairId}: unreadable after an unanswered dissociation`);
    entry.frozen = false;
  }
  const grantsBySerial = new Map<string, typeof world.uncertainGrants>();
  for (const grant of world.uncertainGrants.splice(0)) {
    grantsBySerial.set(grant.serial, [...(grantsBySerial.get(grant.serial) ?? []), grant]);
  }
  for (const [serial, grants] of grantsBySerial) {
    const reply = await read(http, urls.licensing, `/products/${serial}/licenses`);
    const listed = ((reply.body as { licenses?: LicenseView[] } | null)?.licenses ?? []).filter(
      (l) => !world.licenses.has(l.licenseId),
    );
    for (const license of listed) {
      const index = grants.findIndex(
        (g) => g.sku === license.sku && g.trial === license.trial && sameInstant(g.expiresAt, license.expiresAt),
      );
      if (index < 0) continue; // reported by the store check as a license nobody made
      const [grant] = grants.splice(index, 1);
      world.licenses.set(license.licenseId, {
        license: {
          licenseId: license.licenseId,
          serial,
          sku: grant!.sku,
          trial: grant!.trial,
          expiresAt: grant!.expiresAt,
          status: 'active',
        },
        busy: false,
        candidates: null,
      });
      tookEffect++;
    }
    didNot += grants.length;
  }
  for (const entry of world.licenses.values()) {
    if (!entry.candidates) continue;
    const license = (await read(http, urls.licensing, `/licenses/${entry.license.licenseId}`)).body as LicenseView | null;
    const match = entry.candidates.findIndex(
      (c: ModelLicense) => license !== null && c.status === license.status && sameInstant(c.expiresAt, license.expiresAt),
    );
    if (match === 1) {
      entry.license = entry.candidates[1]!;
      tookEffect++;
    } else if (match === 0) didNot++;
    else mismatches.push(`license ${entry.license.licenseId}: ${JSON.stringify(license)} matches neither state it could have`);
    entry.candidates = null;
  }
  return { tookEffect, didNot };
}

/** Checks that pairing and licensing hold exactly the World's products, pairs and licenses. */
export async function checkStores(
  world: World,
  http: HttpOptions,
  urls: Readonly<Record<ServiceName, string>>,
  mismatches: string[],
): Promise<void> {
  await inParallel([...world.products.values()], 6, async ({ product }) => {
    const reply = await read(http, urls.pairing, `/products/${product.serial}`);
    const view = reply.body as ProductView | null;
    const pairId = world.activePairOf(product.serial)?.pair.pairId ?? null;
    if (reply.status !== 200 || !view) mismatches.push(`product ${product.serial}: GET answered ${reply.status}`);
    else if (view.firmwareVersion !== product.firmwareVersion || view.pairId !== pairId)
      mismatches.push(
        `product ${product.serial}: firmware ${view.firmwareVersion} pair ${view.pairId}, expected ${product.firmwareVersion} pair ${pairId}`,
      );
    const listed = await read(http, urls.licensing, `/products/${product.serial}/licenses`);
    const ids = ((listed.body as { licenses?: LicenseView[] } | null)?.licenses ?? []).map((l) => l.licenseId).sort();
    const expected = [...world.licenses.values()]
      .filter((l) => l.license.serial === product.serial)
      .map((l) => l.license.licenseId)
      .sort();
    if (listed.status !== 200) mismatches.push(`licenses of ${product.serial}: GET answered ${listed.status}`);
    else if (ids.join() !== expected.join())
      mismatches.push(
        `licenses of ${product.serial}: ${ids.length} listed [${ids.join(' ')}], expected ${expected.length} [${expected.join(' ')}]`,
      );
  });
  await inParallel([...world.pairs.values()], 6, async ({ pair }) => {
    const view = (await read(http, urls.pairing, `/pairs/${pair.pairId}`)).body as PairView | null;
    if (view?.status !== pair.status)
      mismatches.push(`pair ${pair.pairId}: ${view?.status ?? 'unreadable'}, expected ${pair.status}`);
  });
  await inParallel([...world.licenses.values()], 6, async ({ license }) => {
    const view = (await read(http, urls.licensing, `/licenses/${license.licenseId}`)).body as LicenseView | null;
    if (!view || view.status !== license.status || !sameInstant(view.expiresAt, license.expiresAt))
      mismatches.push(
        `license ${license.licenseId}: ${view ? `${view.status} until ${view.expiresAt}` : 'unreadable'}, expected ${license.status} until ${license.expiresAt}`,
      );
  });
}

/** Every event id in the three stores that no message of its stream carries. */
export async function checkStreams(backends: Backends): Promise<{ missing: string[]; counts: Record<string, number> }> {
  const missing: string[] = [];
  const counts: Record<string, number> = {};
  const jsm = await backends.jsm();
  for (const [service, schema] of Object.entries(backends.schemas) as [EventSource, string][]) {
    const ids = await withClient(backends.postgres, async (client) => {
      const { rows } = await client.query<{ id: string }>(
        `SELECT event_id::text AS id FROM ${pg.escapeIdentifier(schema)}.events`,
      );
      return rows.map((r) => r.id);
    });
    counts[service] = ids.length;
    const onStream = new Set<string>();
    const stream = backends.names.stream(service);
    const { state } = await jsm.streams.info(stream);
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      const id = msg?.header?.get('Nats-Msg-Id');
      // A relay that found its stream short publishes the lost events again as `<eventId>~<tag>`.
      if (id && !msg?.header?.get('Chaos-Injected')) onStream.add(eventIdOfMessageId(id));
    }
    for (const id of ids) if (!onStream.has(id)) missing.push(`${service} event ${id}`);
  }
  return { missing, counts };
}

/** Compares the sync agent's effective set of every product with the oracle's. */
export async function checkEffectiveSets(
  world: World,
  http: HttpOptions,
  syncAgentUrl: string,
): Promise<{ missing: string[]; extra: string[]; checked: number }> {
  const model = world.snapshot();
  const missing: string[] = [];
  const extra: string[] = [];
  await inParallel([...model.products.keys()], 6, async (serial) => {
    const reply = await read(http, syncAgentUrl, `/products/${serial}/effective-licenses`);
    const expected = expectedFacts(model, serial, new Date());
    const observed = reply.status === 200 ? observedFacts(serial, reply.body as ObservedSet) : [];
    const diff = compareFacts(expected, observed);
    missing.push(...diff.missing);
    extra.push(...diff.extra);
  });
  return { missing: missing.sort(), extra: extra.sort(), checked: model.products.size };
}

/** What the readiness oracle judges by: the producers' events, and the sync agent's inbox with when each row committed. */
export interface ReadinessFacts {
  readonly produced: ProducedEvent[];
  readonly inbox: InboxEntry[];
  /** How the inbox's apply times were read: commit timestamps, or the applying transaction's start (`received_at`). */
  readonly appliedAtSource: 'commit timestamp' | 'received_at';
}

/** Reads every event of pairing's and licensing's stores and every row of the sync agent's inbox. */
export async function readReadinessFacts(backends: Backends): Promise<ReadinessFacts> {
  return withClient(backends.postgres, async (client) => {
    const produced: ProducedEvent[] = [];
    for (const service of ['pairing', 'licensing'] as const) {
      const { rows } = await client.query<{
        id: string;
        stream: string;
        version: number;
        cid: string | null;
        cause: string | null;
      }>(
        `SELECT event_id::text AS id, stream_id AS stream, stream_version AS version,
                metadata->>'correlationId' AS cid, metadata->>'causationId' AS cause
           FROM ${pg.escapeIdentifier(backends.schemas[service])}.events`,
      );
      for (const r of rows)
        produced.push({
          eventId: r.id,
          streamId: r.stream,
          streamVersion: r.version,
          correlationId: r.cause === null ? r.cid : null,
        });
    }
    const inbox = pg.escapeIdentifier(backends.schemas['sync-agent']);
    const read = async (appliedAt: string) => {
      const { rows } = await client.query<{ id: string; stream: string; version: number; us: string }>(
        `SELECT event_id::text AS id, stream_id AS stream, stream_version AS version,
                (extract(epoch FROM ${appliedAt}) * 1000000)::bigint::text AS us
           FROM ${inbox}.inbox`,
      );
      return rows.map((r) => ({ eventId: r.id, streamId: r.stream, streamVersion: r.version, appliedAtUs: Number(r.us) }));
    };
    try {
      // A frozen row's xmin has no commit timestamp any more: its received_at is the next best.
      return {
        produced,
        inbox: await read('coalesce(pg_xact_commit_timestamp(xmin), received_at)'),
        appliedAtSource: 'commit timestamp',
      };
    } catch {
      // track_commit_timestamp is off: the applying transaction's start, which is before its commit.
      return { produced, inbox: await read('received_at'), appliedAtSource: 'received_at' };
    }
  });
}
