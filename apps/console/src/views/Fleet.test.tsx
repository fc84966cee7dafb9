import { cleanup, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClient } from '../testing';
import type { ReadinessPage, ReadinessReport } from '../types';
import { Fleet } from './Fleet';

afterEach(cleanup);

const report = (pairId: string, accountId: string, ready: boolean, gaps: ReadinessReport['gaps'] = []): ReadinessReport => ({
  pairId,
  accountId,
  primarySerial: `P${pairId}`.padEnd(12, '0'),
  secondarySerial: `S${pairId}`.padEnd(12, '0'),
  ready,
  checkedAt: '2026-01-01T00:00:00.000Z',
  statefulSync: { enabled: false, reason: 'NOT_LICENSED' },
  gaps,
});

describe('the fleet grid', () => {
  it('groups pairs by account and says, beside the colour, which are ready, warned or not ready, with their gaps', async () => {
    const page: ReadinessPage = {
      accountId: null,
      checkedAt: '2026-01-01T00:00:00.000Z',
      nextCursor: null,
      pairs: [
        report('1', 'acme', true),
        report('2', 'acme', true, [{ code: 'EXPIRING_SOON', severity: 'warning', sku: 'IPS', detail: 'in 3 days' }]),
        report('3', 'globex', false, [{ code: 'MISSING_LICENSE', severity: 'blocking', sku: 'GATEWAY_AV', detail: 'missing' }]),
      ],
    };
    const client = fakeClient({ 'sync-agent GET /pairs/readiness?limit=200': page });
    render(<Fleet client={client} refreshMs={60_000} />);

    const acme = await screen.findByRole('region', { name: /Account acme/ });
    const tiles = within(acme).getAllByRole('link');
    expect(tiles.map((t) => t.getAttribute('aria-label'))).toEqual([
      'Pair P10000000000 and S10000000000: Ready',
      'Pair P20000000000 and S20000000000: Ready, with warnings',
    ]);
    const globex = screen.getByRole('region', { name: /Account globex/ });
    expect(within(globex).getByText('Not ready')).toBeTruthy();
    expect(within(globex).getByText('MISSING_LICENSE GATEWAY_AV').getAttribute('title')).toBe('missing');
    expect(screen.getByText(/3 pairs, 1 not ready/)).toBeTruthy();
  });

  it('follows the cursor to read every page', async () => {
    const first: ReadinessPage = { accountId: null, checkedAt: '', nextCursor: 'abc', pairs: [report('1', 'acme', true)] };
    const second: ReadinessPage = { accountId: null, checkedAt: '', nextCursor: null, pairs: [report('2', 'acme', false)] };
    const client = fakeClient({
      'sync-agent GET /pairs/readiness?limit=200': first,
      'sync-agent GET /pairs/readiness?limit=200&cursor=abc': second,
    });
    render(<Fleet client={client} refreshMs={60_000} />);
    expect(await screen.findByText(/2 pairs, 1 not ready/)).toBeTruthy();
  });
});
