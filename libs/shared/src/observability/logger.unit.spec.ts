import { describe, expect, it, jest } from '@jest/globals';
import { ServiceLogger, levelsUpTo, logfmt } from './logger.js';

/** What the logger wrote to stdout and stderr while `work` ran. */
function output(work: () => void): string {
  const written: string[] = [];
  const capture = (chunk: string | Uint8Array) => (written.push(String(chunk)), true);
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    work();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return written.join('');
}

describe('log levels', () => {
  it('prints the threshold and everything more severe', () => {
    expect(levelsUpTo('error')).toEqual(['fatal', 'error']);
    expect(levelsUpTo('log')).toEqual(['fatal', 'error', 'warn', 'log']);
    expect(levelsUpTo('verbose')).toEqual(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']);
  });
});

describe('logfmt', () => {
  it('writes plain tokens bare, anything else JSON-quoted, and absent values as -', () => {
    expect(logfmt({ status: 200, route: '/products/:serial', correlationId: null, note: 'two words', eq: 'a=b' })).toBe(
      'status=200 route=/products/:serial correlationId=- note="two words" eq="a=b"',
    );
  });
});

describe('ServiceLogger', () => {
  it("prints Nest's start-up lines only at LOG_LEVEL=verbose, and the service's own lines at log", () => {
    const quiet = new ServiceLogger('pairing', { format: 'text', level: 'log' });
    const loud = new ServiceLogger('pairing', { format: 'text', level: 'verbose' });
    const mapped = (logger: ServiceLogger) =>
      output(() => {
        logger.log('Mapped {/products, POST} route', 'RouterExplorer');
        logger.log('PairingModule dependencies initialized', 'InstanceLoader');
      });

    expect(mapped(quiet)).toBe('');
    expect(mapped(loud)).toMatch(/Mapped \{\/products, POST\} route/);
    expect(output(() => quiet.log('pairing ready on http://127.0.0.1:3001'))).toMatch(/\[pairing\] .*pairing ready on/);
    expect(output(() => quiet.log('recorded 1 expiries', 'ExpiryScheduler'))).toMatch(/recorded 1 expiries/);
  });

  it('writes fields as key=value on a text line and as properties of a JSON line', () => {
    const text = output(() =>
      new ServiceLogger('pairing', { format: 'text', level: 'log' }).log('GET /livez 200 0.4 ms', { correlationId: 'c-1' }),
    );
    expect(text).toMatch(/GET \/livez 200 0\.4 ms.* correlationId=c-1\n$/);

    const json = output(() =>
      new ServiceLogger('pairing', { format: 'json', level: 'log' }).log('GET /livez 200 0.4 ms', { status: 200 }),
    );
    expect(JSON.parse(json)).toEqual(
      expect.objectContaining({ level: 'log', context: 'pairing', message: 'GET /livez 200 0.4 ms', status: 200 }),
    );
  });

  it('prints debug lines only at LOG_LEVEL=debug or verbose', () => {
    expect(output(() => new ServiceLogger('s', { format: 'text', level: 'log' }).debug('probe'))).toBe('');
    expect(output(() => new ServiceLogger('s', { format: 'text', level: 'debug' }).debug('probe'))).toMatch(/probe/);
  });
});
