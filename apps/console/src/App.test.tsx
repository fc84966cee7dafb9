import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { App } from './App';
import { storedKey } from './session';
import { fakeClient } from './testing';

afterEach(cleanup);
beforeEach(() => {
  sessionStorage.clear();
  localStorage.clear();
  window.location.hash = '#/expiries';
});

const KEY = `hlsk_${'a'.repeat(43)}`;

describe('signing in', () => {
  it('checks the key with GET /me, keeps it in sessionStorage only, and shows who is signed in', async () => {
    const client = fakeClient({
      'sync-agent GET /me': { keyId: 'k-1', role: 'reader', accountId: 'acme' },
      'licensing GET /licenses*': { items: [], nextCursor: null },
    });
    render(<App makeClient={() => client} />);
    fireEvent.change(screen.getByLabelText('API key'), { target: { value: KEY } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('heading', { name: 'Upcoming expiries' })).toBeTruthy();
    expect(screen.getByText('reader')).toBeTruthy();
    expect(storedKey()).toBe(KEY);
    expect(localStorage.length).toBe(0);
    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(storedKey()).toBeNull();
    expect(screen.getByLabelText('API key')).toBeTruthy();
  });

  it('refuses a key the services do not accept, and keeps nothing', async () => {
    const client = fakeClient({ 'sync-agent GET /me': new ApiError(401, 'UNAUTHENTICATED', 'no') });
    render(<App makeClient={() => client} />);
    fireEvent.change(screen.getByLabelText('API key'), { target: { value: KEY } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toContain('That key was not accepted');
    expect(storedKey()).toBeNull();
  });
});
