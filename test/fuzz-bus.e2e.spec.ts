/**
 * The short version of the bus fuzz (`fuzzBus` in scripts/fuzz/bus.ts; the full run sends at least 1,000):
 * malformed and forged messages, tampered, moved and replayed copies of real events, sent by a client without a
 * signing key. Every one is rejected and dead-lettered by the sync agent and no effective set changes.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { EffectiveLicenseSetV1 } from '#shared/contracts';
import { fuzzBus } from '../scripts/fuzz/bus.js';
import { NATS_URL, TEST_OPERATOR_KEY, api, eventually, startSystem, type RunningSystem } from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(180_000);

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem('fuzz_bus', { readyTimeoutMs: 90_000 });
}, 120_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

describe('fuzzBus (short run)', () => {
  it('rejects every malformed or forged message and changes no effective set', async () => {
    const story = driver(() => system, 'acct-fuzz');
    const { primary, secondary } = await story.pair();
    const serials = [primary, secondary];
    await story.grant(primary, 'GATEWAY_AV');
    await eventually(
      async () => {
        const set = (await api(system.syncAgent).get<EffectiveLicenseSetV1>(`/products/${serials[1]}/effective-licenses`)).body;
        return set.licenses?.some((l) => l.sku === 'GATEWAY_AV');
      },
      { description: 'the grant shared with the Secondary', timeoutMs: 20_000 },
    );

    const result = await fuzzBus({
      natsUrl: NATS_URL,
      namespace: system.namespace,
      syncAgentUrl: system.syncAgent,
      apiKey: TEST_OPERATOR_KEY,
      serials,
      messages: 150,
      seed: 20261125,
    });

    expect(result.sent).toBe(150);
    expect(result.rejected).toBe(result.sent);
    expect(result.deadLettered).toBe(result.sent);
    expect(result.stateChanges).toBe(0);
    expect(Object.keys(result.sentByKind).sort()).toEqual(
      expect.arrayContaining([
        'forged-known-key-id',
        'forged-unknown-key',
        'forged-unsigned',
        'moved',
        'random-bytes',
        'replayed',
        'tampered',
      ]),
    );
    expect(Object.keys(result.rejectedByReason).sort()).toEqual(
      expect.arrayContaining(['bad_signature', 'moved', 'replayed', 'unknown_key', 'unsigned']),
    );
  });
});
