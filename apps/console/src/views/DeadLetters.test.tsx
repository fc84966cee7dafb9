import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api';
import { fakeClient } from '../testing';
import type { DeadLetter, Principal } from '../types';
import { DeadLetters } from './DeadLetters';

afterEach(cleanup);

const letter: DeadLetter = {
  id: 7,
  consumer: 'sync-agent',
  reason: 'SCHEMA_VIOLATION',
  detail: 'ProductRegistered fails its schema',
  stream: 'PAIRING',
  streamSequence: 42,
  subject: 'pairing.v1.product-registered.0123456789AB',
  deliveries: 1,
  deadLetteredAt: '2026-01-01T00:00:00.000Z',
  replayedAt: null,
};

const as = (role: Principal['role']): Principal => ({ keyId: 'k', role, accountId: role === 'reader' ? 'acme' : null });

describe('dead letters', () => {
  it('shows each letter with its reason, and lets an operator replay it', async () => {
    let listed = [letter];
    const client = fakeClient({
      'sync-agent GET /dead-letters?limit=100': () => ({ items: listed, nextBefore: null }),
      'licensing GET /dead-letters?limit=100': { items: [], nextBefore: null },
      'sync-agent POST /dead-letters/7/replay': () => {
        listed = [];
        return { ...letter, replayedAt: '2026-01-02T00:00:00.000Z' };
      },
    });
    render(<DeadLetters client={client} principal={as('operator')} />);
    const sync = await screen.findByRole('region', { name: 'Sync agent' });
    const row = await within(sync).findByText('SCHEMA_VIOLATION');
    expect(row).toBeTruthy();
    fireEvent.click(within(sync).getByRole('button', { name: 'Replay dead letter 7' }));
    expect(await screen.findByText('Dead letter 7 was replayed.')).toBeTruthy();
    expect(await within(sync).findByText('None.')).toBeTruthy();
    expect(client.calls).toContain('sync-agent POST /dead-letters/7/replay');
  });

  it('offers no replay to an auditor', async () => {
    const client = fakeClient({
      'sync-agent GET /dead-letters?limit=100': { items: [letter], nextBefore: null },
      'licensing GET /dead-letters?limit=100': { items: [], nextBefore: null },
    });
    render(<DeadLetters client={client} principal={as('auditor')} />);
    expect(await screen.findByText('SCHEMA_VIOLATION')).toBeTruthy();
    expect(screen.queryByRole('button', { name: /Replay/ })).toBeNull();
  });

  it('tells a reader that dead letters are not for its role, and offers nothing to replay', async () => {
    const forbidden = new ApiError(403, 'FORBIDDEN', 'no');
    const client = fakeClient({
      'sync-agent GET /dead-letters?limit=100': forbidden,
      'licensing GET /dead-letters?limit=100': forbidden,
    });
    render(<DeadLetters client={client} principal={as('reader')} />);
    expect(await screen.findAllByText(/only operator and auditor keys may list them/)).toHaveLength(2);
    expect(screen.queryByRole('button', { name: /Replay/ })).toBeNull();
  });
});
