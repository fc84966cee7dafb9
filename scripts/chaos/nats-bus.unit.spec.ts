import { describe, expect, it } from '@jest/globals';
import { nodeConfig } from './nats-bus.js';

describe('the configuration of a node of the chaos bus', () => {
  it('gives a single server its name, loopback address and store, and no cluster', () => {
    expect(nodeConfig({ name: 'n1', clientPort: 14222, storeDir: '/tmp/run/n1/store' }, null)).toBe(
      ['server_name: n1', 'listen: 127.0.0.1:14222', 'jetstream {', '  store_dir: "/tmp/run/n1/store"', '}', ''].join('\n'),
    );
  });

  it('gives a cluster node its route listener and the routes to every node', () => {
    const text = nodeConfig(
      { name: 'n2', clientPort: 14223, storeDir: '/tmp/run/n2/store', routePort: 16223 },
      { name: 'chaos', routePorts: [16222, 16223, 16224] },
    );
    expect(text).toContain('server_name: n2\nlisten: 127.0.0.1:14223\n');
    expect(text).toContain(
      [
        'cluster {',
        '  name: chaos',
        '  listen: 127.0.0.1:16223',
        '  routes: [',
        '    nats-route://127.0.0.1:16222',
        '    nats-route://127.0.0.1:16223',
        '    nats-route://127.0.0.1:16224',
        '  ]',
        '}',
      ].join('\n'),
    );
  });

  it('refuses a cluster node without a route port', () => {
    expect(() => nodeConfig({ name: 'n3', clientPort: 1, storeDir: '/s' }, { name: 'chaos', routePorts: [] })).toThrow(
      /route port/,
    );
  });
});
