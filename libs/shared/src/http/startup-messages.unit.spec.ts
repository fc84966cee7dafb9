import { describe, expect, it } from '@jest/globals';
import { operatorKeyNotice, readyBanner } from './startup-messages.js';

describe('start-up messages', () => {
  it('announce a ready service with its URL and probes on one line', () => {
    const banner = readyBanner('licensing', 'http://127.0.0.1:3002');
    expect(banner).toBe(
      'licensing ready on http://127.0.0.1:3002 (liveness http://127.0.0.1:3002/livez, ' +
        'readiness http://127.0.0.1:3002/readyz, metrics http://127.0.0.1:3002/metrics)',
    );
    expect(banner).not.toContain('\n');
  });

  it('say where the development operator key is once: from pairing, and only without OPERATOR_API_KEY', () => {
    expect(operatorKeyNotice('generated', true)).toMatch(
      /development operator key is in \.local\/operator-api-key \(generated now/,
    );
    expect(operatorKeyNotice('local-file', true)).toMatch(/\.local\/operator-api-key \(made by an earlier start/);
    expect(operatorKeyNotice('generated', false)).toBeNull();
    expect(operatorKeyNotice('local-file', false)).toBeNull();
    expect(operatorKeyNotice('environment', true)).toBeNull();
  });
});
