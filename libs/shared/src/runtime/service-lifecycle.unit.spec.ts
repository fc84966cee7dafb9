import { describe, expect, it } from '@jest/globals';
import { ServiceMetrics } from '../observability/metrics.js';
import { ServiceLifecycle, StartupPhase } from './service-lifecycle.js';

describe('ServiceLifecycle', () => {
  it('starts the parts in phase order whatever order the modules added them, and counts as started before serving', async () => {
    const lifecycle = new ServiceLifecycle(new ServiceMetrics('lifecycle-test'));
    const seen: string[] = [];
    const step = (name: string, phase: StartupPhase) =>
      lifecycle.add({
        phase,
        start: () => void seen.push(`${name} (started: ${lifecycle.started})`),
        stop: () => void seen.push(`stop ${name}`),
      });
    step('responders', StartupPhase.Serving);
    step('consumers', StartupPhase.Consumers);
    step('database', StartupPhase.Database);
    lifecycle.whenConnected(() => void seen.push(`scheduler (started: ${lifecycle.started})`));
    step('bus', StartupPhase.Bus);
    step('relay', StartupPhase.Relay);
    await lifecycle.start();
    expect(seen).toEqual([
      'database (started: false)',
      'bus (started: false)',
      'relay (started: false)',
      'consumers (started: false)',
      'scheduler (started: false)',
      'responders (started: true)',
    ]);
    seen.length = 0;
    await lifecycle.onApplicationShutdown();
    expect(seen).toEqual(['stop responders', 'stop consumers', 'stop relay', 'stop bus', 'stop database']);
    expect(lifecycle.started).toBe(false);
    expect(lifecycle.signal.aborted).toBe(true);
  });

  it('stops only what began when the service stops while still waiting for a dependency', async () => {
    const lifecycle = new ServiceLifecycle(new ServiceMetrics('lifecycle-test'));
    const stopped: string[] = [];
    lifecycle.add({
      phase: StartupPhase.Database,
      start: (signal) =>
        new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('gave up')))),
      stop: () => void stopped.push('database'),
    });
    lifecycle.add({ phase: StartupPhase.Bus, start: () => undefined, stop: () => void stopped.push('bus') });
    const starting = lifecycle.start();
    await lifecycle.onApplicationShutdown();
    await expect(starting).rejects.toThrow('gave up');
    expect(stopped).toEqual(['database']);
  });
});
