import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InterpolationError, interpolate, loadCompose } from './compose-file.js';

const ENV = { SET: 'value', EMPTY: '', FALLBACK: 'fallback' };

function run(text: string, env: Record<string, string> = ENV): { value: string; warnings: string[] } {
  const warnings: string[] = [];
  return { value: interpolate(text, env, 'x', warnings), warnings };
}

describe('interpolate (the Compose specification)', () => {
  it.each([
    ['${SET}', 'value'],
    ['$SET', 'value'],
    ['a-$SET-b', 'a-value-b'],
    ['${SET:-d}', 'value'],
    ['${EMPTY:-d}', 'd'],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${SET:+r}', 'r'],
    ['${EMPTY:+r}', ''],
    ['${EMPTY+r}', 'r'],
    ['${UNSET+r}', ''],
    ['${UNSET:-${FALLBACK}}', 'fallback'],
    ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep'],
    ['${UNSET:-127.0.0.1}:${PORT:-3001}:3001', '127.0.0.1:3001:3001'],
    ['$$SET', '$SET'],
    ['exec nats-server "$$@"', 'exec nats-server "$@"'],
    ['${UNSET:-$$literal}', '$literal'],
    ['cost $5 and $', 'cost $5 and $'],
  ])('%s → %s', (text, expected) => {
    expect(run(text)).toEqual({ value: expected, warnings: [] });
  });

  it('makes an unset variable without a default empty, with a warning', () => {
    expect(run('a${UNSET}b')).toEqual({
      value: 'ab',
      warnings: ['x: the "UNSET" variable is not set. Defaulting to a blank string.'],
    });
  });

  it.each([
    ['${UNSET:?set it}', /required variable UNSET is missing a value: set it/],
    ['${EMPTY:?set it}', /required variable EMPTY is missing a value/],
    ['${UNSET?set ${FALLBACK}}', /missing a value: set fallback/],
  ])('stops at %s', (text, message) => {
    expect(() => run(text)).toThrow(InterpolationError);
    expect(() => run(text)).toThrow(message);
  });

  it('accepts ${EMPTY?…}: the variable is set, if empty', () => {
    expect(run('${EMPTY?needed}').value).toBe('');
  });

  it.each(['${', '${1X}', '${X:=d}'])('refuses the malformed %s', (text) => {
    expect(() => run(text)).toThrow(InterpolationError);
  });
});

describe('loadCompose', () => {
  it('resolves anchors and merge keys, then interpolates values and not keys', () => {
    const project = loadCompose(
      [
        'x-env: &env',
        '  A: ${A:-a}',
        '  $KEY: kept',
        'x-svc: &svc',
        '  image: img:${TAG:-1}',
        'services:',
        '  one:',
        '    <<: *svc',
        '    environment:',
        '      <<: *env',
        '      B: "b"',
        '    volumes: ["data:/data:ro", "./conf.yml:/etc/conf.yml"]',
        "    ports: ['${IP:-127.0.0.1}:8080:80']",
        '    depends_on: [two]',
        '  two:',
        '    command: ["a", "$$b"]',
        '    depends_on: { one: { condition: service_healthy } }',
        'volumes: { data: }',
      ].join('\n'),
      { TAG: '2' },
    );
    const [one, two] = project.services;
    expect(one).toMatchObject({
      image: 'img:2',
      environment: { A: 'a', $KEY: 'kept', B: 'b' },
      mounts: [
        { type: 'volume', source: 'data', target: '/data', readOnly: true },
        { type: 'bind', source: './conf.yml', target: '/etc/conf.yml', readOnly: false },
      ],
      ports: [{ hostIp: '127.0.0.1', hostPort: '8080', containerPort: '80' }],
      dependsOn: { two: 'service_started' },
    });
    expect(two).toMatchObject({ command: ['a', '$b'], dependsOn: { one: 'service_healthy' } });
    expect(project.volumes).toEqual(['data']);
  });

  it("reads the repository's docker-compose.yml with no variable set: every variable has a default", () => {
    const text = readFileSync(fileURLToPath(new URL('../../docker-compose.yml', import.meta.url)), 'utf8');
    const project = loadCompose(text, {});
    expect(project.warnings).toEqual([]);
    expect(project.services.map((s) => s.name).sort()).toEqual(
      ['bus-setup', 'init', 'licensing', 'nats', 'pairing', 'postgres', 'sync-agent'].sort(),
    );
  });
});
