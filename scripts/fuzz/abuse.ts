/**
 * The abuse half of `npm run fuzz`: measures the bounds a hostile client meets, against a running system
 * (loopback only, every loop bounded in time):
 * - an invalid-key flood from one client address (127.0.0.2): how many keys were looked up before the address
 *   was throttled (429), and what it cost pairing in api_keys lookups; an operator on another address
 *   (127.0.0.5) is served meanwhile; one unknown key repeated (127.0.0.3) costs one lookup;
 * - the per-key limit: one key flooding a cheap endpoint (127.0.0.4), accepted requests per minute against
 *   RATE_LIMIT_PER_MINUTE;
 * - a body and a request head trickled a byte at a time: when the server cuts the connection off;
 * - control characters in every text field of the bodies and queries: refused 400 naming the field.
 * Each source address of the loopback range is its own client address to the services.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { LoopbackClient } from './loopback-client.js';
import { CONNECTIONS_CHECKING_INTERVAL_MS } from '#shared';

/** How late a slow client may be cut off: the server's check interval, and half a second of scheduling. */
const CUT_OFF_SLACK_SECONDS = CONNECTIONS_CHECKING_INTERVAL_MS / 1000 + 0.5;

/** A running system to measure, and the settings it runs with (to compare against). */
export interface AbuseTarget {
  readonly pairing: string;
  readonly licensing: string;
  readonly syncAgent: string;
  readonly operatorKey: string;
  readonly settings: {
    readonly rateLimitPerMinute: number;
    readonly rateLimitBurst: number;
    readonly failedAuthPerMinute: number;
    readonly headersTimeoutSeconds: number;
    readonly requestTimeoutSeconds: number;
  };
}

export interface AbuseOptions {
  /** How long the invalid-key flood lasts. */
  readonly floodSeconds: number;
  /** How long one key floods a cheap endpoint. */
  readonly perKeySeconds: number;
  /** Requests in flight at once in each flood (default 32). */
  readonly concurrency?: number;
  readonly log?: (line: string) => void;
}

export interface AbuseReport {
  readonly invalidKeyFlood: {
    readonly seconds: number;
    readonly sent: number;
    /** 401: the key was looked up and refused. */
    readonly unauthenticated: number;
    /** 429: refused before any lookup. */
    readonly throttled: number;
    readonly other: Record<string, number>;
    /** pairing's api_keys lookups during the flood (ha_license_sync_api_key_lookups_total). */
    readonly lookups: number;
    /** Operator requests from another address during the flood, and how many were answered 200. */
    readonly operatorServed: { readonly sent: number; readonly ok: number };
    /** One unknown key presented `repeated` times: pairing's lookups for it. */
    readonly repeatedUnknownKey: { readonly repeated: number; readonly lookups: number };
  };
  readonly perKey: {
    readonly seconds: number;
    readonly sent: number;
    readonly accepted: number;
    readonly limited: number;
    readonly other: Record<string, number>;
    /** Over the whole flood, the burst included. */
    readonly acceptedPerMinute: number;
    /** From the first 429 on: the rate the limit holds a flooding key to. */
    readonly steadyPerMinute: number | null;
    readonly setting: number;
    readonly burst: number;
    /** (steadyPerMinute - setting) / setting, in percent. */
    readonly deviationPercent: number | null;
    /** After how many accepted requests the first 429 came (about the burst). */
    readonly firstLimitedAfter: number | null;
  };
  readonly slowBody: SlowClientResult;
  readonly slowHeaders: SlowClientResult;
  readonly controlCharacters: { readonly sent: number; readonly refusedNamingField: number; readonly wrong: string[] };
  /** What did not hold; empty when every bound held. */
  readonly failures: string[];
}

export interface SlowClientResult {
  readonly limitSeconds: number;
  /** When the server closed the connection (null: it did not within the test's own bound). */
  readonly closedAfterSeconds: number | null;
  /** The server's status line, if it answered before closing. */
  readonly answer: string;
}

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost):\d+$/;

/** A well-formed key that no one holds (a fresh one each call, so no cache can answer for it). */
export function unknownKey(): string {
  return `hlsk_${randomBytes(32).toString('base64url')}`;
}

/** Sends `send()` from `concurrency` workers until `seconds` have passed; counts the statuses. */
async function flood(
  seconds: number,
  concurrency: number,
  send: () => Promise<number>,
): Promise<{ sent: number; byStatus: Map<number, number>; elapsed: number }> {
  const byStatus = new Map<number, number>();
  let sent = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        sent++;
        const status = await send().catch(() => 0);
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      }
    }),
  );
  return { sent, byStatus, elapsed: (performance.now() - started) / 1000 };
}

/** The statuses other than `expected`, by status. */
function others(byStatus: Map<number, number>, expected: readonly number[]): Record<string, number> {
  return Object.fromEntries([...byStatus].filter(([status]) => !expected.includes(status)).map(([s, n]) => [String(s), n]));
}

/** A counter's value on a service's /metrics: the series of `name` with `label` (0 while it is absent). */
async function metric(client: LoopbackClient, base: string, key: string, name: string, label: string): Promise<number> {
  const response = await client.request(`${base}/metrics`, { key });
  if (response.status !== 200) throw new Error(`GET ${base}/metrics → ${response.status}`);
  const line = response.body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/**
 * A client that sends `head` at once, then one byte of `trickle` every `everyMs`, until the server closes the
 * connection or `giveUpSeconds` pass.
 */
export function slowClient(
  base: string,
  head: string,
  trickle: string,
  everyMs: number,
  giveUpSeconds: number,
): Promise<{ closedAfterSeconds: number | null; answer: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(Number(port), hostname);
    let answer = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < trickle.length && !socket.destroyed) socket.write(trickle[sent++]!);
    }, everyMs);
    const giveUp = setTimeout(() => socket.destroy(new Error('given up')), giveUpSeconds * 1000);
    socket.on('connect', () => socket.write(head));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      const seconds = (performance.now() - started) / 1000;
      resolve({ closedAfterSeconds: seconds < giveUpSeconds ? seconds : null, answer: answer.split('\r\n')[0] ?? '' });
    });
  });
}

interface TextField {
  readonly service: 'pairing' | 'licensing' | 'syncAgent';
  readonly method: string;
  /** The path (with the query for query fields). */
  readonly path: (value: string) => string;
  readonly body?: (value: string) => object;
  /** The field the 400 must name. */
  readonly field: string;
}

const serial = (): string => randomBytes(6).toString('hex').toUpperCase();
const ACCOUNT = 'acct-abuse';
/** Every text field of every request body and query, with a valid request around it. */
const TEXT_FIELDS: readonly TextField[] = [
  {
    service: 'pairing',
    method: 'POST',
    path: () => '/products',
    body: (v) => ({ serial: serial(), model: `NSA${v}2700`, firmwareVersion: '7.0.1', accountId: ACCOUNT }),
    field: 'model',
  },
  {
    service: 'pairing',
    method: 'POST',
    path: () => '/products',
    body: (v) => ({ serial: serial(), model: 'NSA 2700', firmwareVersion: '7.0.1', accountId: `acct${v}` }),
    field: 'accountId',
  },
  {
    service: 'pairing',
    method: 'POST',
    path: () => '/products',
    body: (v) => ({ serial: serial(), model: 'NSA 2700', firmwareVersion: `7.0${v}.1`, accountId: ACCOUNT }),
    field: 'firmwareVersion',
  },
  {
    service: 'pairing',
    method: 'PATCH',
    path: () => `/products/${serial()}`,
    body: (v) => ({ firmwareVersion: `7.1.0${v}` }),
    field: 'firmwareVersion',
  },
  {
    service: 'pairing',
    method: 'POST',
    path: () => '/pairs',
    body: (v) => ({ primarySerial: `${serial()}${v}`, secondarySerial: serial() }),
    field: 'primarySerial',
  },
  {
    service: 'pairing',
    method: 'POST',
    path: () => '/api-keys',
    body: (v) => ({ name: `portal${v}key`, role: 'reader', accountId: ACCOUNT }),
    field: 'name',
  },
  { service: 'pairing', method: 'GET', path: (v) => `/api-keys?accountId=${encodeURIComponent(`a${v}`)}`, field: 'accountId' },
  {
    service: 'licensing',
    method: 'POST',
    path: () => `/products/${serial()}/licenses`,
    body: (v) => ({ sku: `GATEWAY${v}AV` }),
    field: 'sku',
  },
  {
    service: 'licensing',
    method: 'POST',
    path: () => '/licenses/00000000-0000-4000-8000-000000000000/renewals',
    body: (v) => ({ expiresAt: `2030-01-01T00:00:00Z${v}` }),
    field: 'expiresAt',
  },
  {
    service: 'syncAgent',
    method: 'GET',
    path: (v) => `/pairs/readiness?accountId=${encodeURIComponent(`a${v}`)}`,
    field: 'accountId',
  },
  {
    service: 'syncAgent',
    method: 'GET',
    path: (v) => `/products/${serial()}/effective-licenses?at=${encodeURIComponent(`2030-01-01T00:00:00Z${v}`)}`,
    field: 'at',
  },
];
/** A sample of the control characters: NUL, the first, tab, line feed, carriage return, escape, the last, DEL. */
const CONTROL_CHARACTERS = ['\u0000', '\u0001', '\t', '\n', '\r', '\u001b', '\u001f', '\u007f'];

/** Measures every bound; `failures` lists what did not hold. */
export async function measureAbuse(target: AbuseTarget, options: AbuseOptions): Promise<AbuseReport> {
  for (const url of [target.pairing, target.licensing, target.syncAgent])
    if (!LOOPBACK.test(url)) throw new Error(`refusing to measure ${url}: loopback only`);
  const log = options.log ?? (() => undefined);
  const concurrency = options.concurrency ?? 32;
  const { settings } = target;
  const failures: string[] = [];
  // Its own address: an earlier phase of the fuzz may have spent 127.0.0.1's failed-authentication budget.
  const operator = new LoopbackClient('127.0.0.5', 4);
  const attacker = new LoopbackClient('127.0.0.2', concurrency);
  const repeater = new LoopbackClient('127.0.0.3', 4);
  const busy = new LoopbackClient('127.0.0.4', concurrency);
  const base = { pairing: target.pairing, licensing: target.licensing, syncAgent: target.syncAgent };
  const unknownLookups = () =>
    metric(operator, target.pairing, target.operatorKey, 'ha_license_sync_api_key_lookups_total', 'answer="unknown"');
  try {
    // 1. An unknown key repeated, below the failed-authentication budget: one lookup.
    const repeated = Math.max(1, Math.min(20, settings.failedAuthPerMinute - 1));
    const key = unknownKey();
    const beforeRepeat = await unknownLookups();
    for (let i = 0; i < repeated; i++) await repeater.request(`${target.pairing}/products/${serial()}`, { key });
    const repeatedLookups = (await unknownLookups()) - beforeRepeat;
    if (repeatedLookups !== 1) failures.push(`one unknown key ${repeated} times cost ${repeatedLookups} lookups (expected 1)`);

    // 2. The invalid-key flood from one address, an operator on another address meanwhile.
    log(`abuse: invalid-key flood from 127.0.0.2 for ${options.floodSeconds} s`);
    const beforeFlood = await unknownLookups();
    const operatorServed = { sent: 0, ok: 0 };
    let flooding = true;
    const operatorLoop = (async () => {
      while (flooding) {
        operatorServed.sent++;
        const response = await operator.request(`${target.pairing}/api-keys?accountId=${ACCOUNT}`, { key: target.operatorKey });
        if (response.status === 200) operatorServed.ok++;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    const invalid = await flood(options.floodSeconds, concurrency, async () => {
      const response = await attacker.request(`${target.pairing}/products/${serial()}`, { key: unknownKey() });
      return response.status;
    });
    flooding = false;
    await operatorLoop;
    const floodLookups = (await unknownLookups()) - beforeFlood;
    const invalidKeyFlood = {
      seconds: invalid.elapsed,
      sent: invalid.sent,
      unauthenticated: invalid.byStatus.get(401) ?? 0,
      throttled: invalid.byStatus.get(429) ?? 0,
      other: others(invalid.byStatus, [401, 429]),
      lookups: floodLookups,
      operatorServed,
      repeatedUnknownKey: { repeated, lookups: repeatedLookups },
    };
    // The budget (a burst of FAILED_AUTH_PER_MINUTE, refilled at that rate), plus the requests in flight when it ran out.
    const allowedLookups = settings.failedAuthPerMinute * (1 + invalid.elapsed / 60) + concurrency;
    if (floodLookups > allowedLookups)
      failures.push(`the invalid-key flood cost ${floodLookups} lookups (budget about ${Math.round(allowedLookups)})`);
    if (invalidKeyFlood.throttled === 0) failures.push('the invalid-key flood was never throttled');
    if (Object.keys(invalidKeyFlood.other).length > 0)
      failures.push(`the invalid-key flood got other answers: ${JSON.stringify(invalidKeyFlood.other)}`);
    if (operatorServed.ok !== operatorServed.sent)
      failures.push(`the operator on another address was served ${operatorServed.ok} of ${operatorServed.sent}`);

    // 3. One key flooding a cheap endpoint.
    log(`abuse: one key flooding GET /catalog from 127.0.0.4 for ${options.perKeySeconds} s`);
    const created = await operator.request(`${target.pairing}/api-keys`, {
      method: 'POST',
      key: target.operatorKey,
      body: { name: 'abuse: busy reader', role: 'reader', accountId: ACCOUNT },
    });
    if (created.status !== 201) throw new Error(`creating the busy key → ${created.status} ${created.body}`);
    const busyKey = (JSON.parse(created.body) as { apiKey: string }).apiKey;
    let accepted = 0;
    let firstLimited: { accepted: number; at: number } | undefined;
    const started = performance.now();
    const perKeyFlood = await flood(options.perKeySeconds, concurrency, async () => {
      const response = await busy.request(`${target.licensing}/catalog`, { key: busyKey });
      if (response.status === 200) accepted++;
      else if (response.status === 429) firstLimited ??= { accepted, at: performance.now() };
      return response.status;
    });
    const ended = performance.now();
    const limitedFrom = firstLimited;
    const steadyPerMinute = limitedFrom ? ((accepted - limitedFrom.accepted) / ((ended - limitedFrom.at) / 1000)) * 60 : null;
    const perKey = {
      seconds: perKeyFlood.elapsed,
      sent: perKeyFlood.sent,
      accepted,
      limited: perKeyFlood.byStatus.get(429) ?? 0,
      other: others(perKeyFlood.byStatus, [200, 429]),
      acceptedPerMinute: (accepted / perKeyFlood.elapsed) * 60,
      steadyPerMinute,
      setting: settings.rateLimitPerMinute,
      burst: settings.rateLimitBurst,
      deviationPercent:
        steadyPerMinute === null ? null : ((steadyPerMinute - settings.rateLimitPerMinute) / settings.rateLimitPerMinute) * 100,
      firstLimitedAfter: limitedFrom?.accepted ?? null,
    };
    // What the limit promises over any window: the burst plus the rate.
    const bound = settings.rateLimitBurst + (settings.rateLimitPerMinute * (ended - started)) / 60_000;
    if (steadyPerMinute === null)
      failures.push(
        `one key was never limited (${perKey.sent} requests in ${perKey.seconds.toFixed(1)} s: the flood was too slow)`,
      );
    else if (Math.abs(perKey.deviationPercent!) > 10)
      failures.push(`one key was held to ${Math.round(steadyPerMinute)}/min against ${settings.rateLimitPerMinute}/min`);
    if (accepted > bound * 1.02 + 1)
      failures.push(`one key got ${accepted} requests through, more than the burst and the rate allow (${Math.round(bound)})`);
    if (Object.keys(perKey.other).length > 0)
      failures.push(`the per-key flood got other answers: ${JSON.stringify(perKey.other)}`);

    // 4. Slow clients, without a key: a trickled body, a trickled head.
    log('abuse: a trickled body and a trickled request head');
    const body = JSON.stringify({ serial: serial(), model: 'x'.repeat(1000) });
    const bodyHead = `POST /products HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const giveUp = settings.requestTimeoutSeconds + 10;
    const [trickledBody, trickledHead] = await Promise.all([
      slowClient(target.pairing, bodyHead, body, 250, giveUp),
      slowClient(target.pairing, 'GET /health HTTP/1.1\r\n', `X-Slow: ${'y'.repeat(1000)}`, 250, giveUp),
    ]);
    const slowBody = { limitSeconds: settings.requestTimeoutSeconds, ...trickledBody };
    const slowHeaders = { limitSeconds: settings.headersTimeoutSeconds, ...trickledHead };
    for (const [what, result] of [
      ['trickled body', slowBody],
      ['trickled head', slowHeaders],
    ] as const)
      // Node checks the limits every CONNECTIONS_CHECKING_INTERVAL_MS; half a second more for a busy machine.
      if (result.closedAfterSeconds === null || result.closedAfterSeconds > result.limitSeconds + CUT_OFF_SLACK_SECONDS)
        failures.push(`a ${what} was cut off after ${result.closedAfterSeconds ?? 'never'} s (limit ${result.limitSeconds} s)`);

    // 5. Control characters in every text field.
    log(`abuse: ${CONTROL_CHARACTERS.length} control characters in ${TEXT_FIELDS.length} text fields`);
    const wrong: string[] = [];
    let refusedNamingField = 0;
    for (const field of TEXT_FIELDS)
      for (const character of CONTROL_CHARACTERS) {
        const response = await operator.request(`${base[field.service]}${field.path(character)}`, {
          method: field.method,
          key: target.operatorKey,
          body: field.body?.(character),
        });
        const problem = JSON.parse(response.body || '{}') as { code?: string; errors?: { field: string }[] };
        const named = problem.errors?.some((e) => e.field === field.field) ?? false;
        if (response.status === 400 && problem.code === 'VALIDATION_FAILED' && named) refusedNamingField++;
        else
          wrong.push(
            `${field.method} ${field.path('…')} ${field.field} with U+${character.charCodeAt(0).toString(16).padStart(4, '0')} → ${response.status} ${response.body.slice(0, 120)}`,
          );
      }
    const controlCharacters = { sent: TEXT_FIELDS.length * CONTROL_CHARACTERS.length, refusedNamingField, wrong };
    failures.push(...wrong.slice(0, 10));

    return { invalidKeyFlood, perKey, slowBody, slowHeaders, controlCharacters, failures };
  } finally {
    for (const client of [operator, attacker, repeater, busy]) client.close();
  }
}

/** The report as the lines `npm run fuzz` prints. */
export function describeAbuse(report: AbuseReport): string[] {
  const f = report.invalidKeyFlood;
  const k = report.perKey;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  return [
    `invalid-key flood from one address: ${n(f.sent)} requests in ${f.seconds.toFixed(1)} s (${n(f.sent / f.seconds)}/s) → ` +
      `401 ${n(f.unauthenticated)}, 429 ${n(f.throttled)}${Object.keys(f.other).length ? `, other ${JSON.stringify(f.other)}` : ''}; ` +
      `pairing looked up ${n(f.lookups)} keys (${(f.lookups / f.seconds).toFixed(1)}/s); an operator on another address: ${f.operatorServed.ok}/${f.operatorServed.sent} served`,
    `one unknown key ${f.repeatedUnknownKey.repeated} times: ${f.repeatedUnknownKey.lookups} lookup(s)`,
    `one key flooding GET /catalog: ${n(k.sent)} requests in ${k.seconds.toFixed(1)} s → 200 ${n(k.accepted)}, 429 ${n(k.limited)}` +
      `${Object.keys(k.other).length ? `, other ${JSON.stringify(k.other)}` : ''}; first 429 after ${k.firstLimitedAfter ?? '-'} accepted ` +
      `(burst ${n(k.burst)}); from then on ${k.steadyPerMinute === null ? '-' : n(k.steadyPerMinute)}/min against ${n(k.setting)}/min ` +
      `(${k.deviationPercent === null ? '-' : `${k.deviationPercent >= 0 ? '+' : ''}${k.deviationPercent.toFixed(1)} %`}); ` +
      `${n(k.acceptedPerMinute)}/min over the whole flood, burst included`,
    `trickled body: cut off after ${report.slowBody.closedAfterSeconds?.toFixed(1) ?? 'never'} s (limit ${report.slowBody.limitSeconds} s; ${report.slowBody.answer || 'no answer'})`,
    `trickled request head: cut off after ${report.slowHeaders.closedAfterSeconds?.toFixed(1) ?? 'never'} s (limit ${report.slowHeaders.limitSeconds} s; ${report.slowHeaders.answer || 'no answer'})`,
    `control characters: ${report.controlCharacters.sent} requests → ${report.controlCharacters.refusedNamingField} refused 400 naming the field`,
  ];
}
