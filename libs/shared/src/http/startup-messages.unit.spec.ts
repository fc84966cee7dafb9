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
    // Whichever of the three made the file (they start together), pairing says where it is, and only that.
    for (const source of ['generated', 'local-file'] as const)
      expect(operatorKeyNotice(source, true)).toBe(
        'no OPERATOR_API_KEY: the development operator key is in .local/operator-api-key (`cat .local/operator-api-key` shows it)',
      );
    expect(operatorKeyNotice('generated', false)).toBeNull();
    expect(operatorKeyNotice('local-file', false)).toBeNull();
    expect(operatorKeyNotice('environment', true)).toBeNull();
  });
});
