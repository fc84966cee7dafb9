import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSecrets, secretsLayout } from './init-secrets.js';
import { parseEnvFile } from './secrets.js';

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

const OWNER = { uid: 1000, gid: 1000 };
const NOW = new Date('2026-12-07T10:00:00Z');

function layout() {
  const root = mkdtempSync(join(tmpdir(), 'init-secrets-'));
  roots.push(root);
  return secretsLayout(root);
}

const pem = (path: string) => readFileSync(path, 'utf8');
const keysOf = (dir: string) =>
  readdirSync(dir).map((f) => (pem(join(dir, f)).includes('PRIVATE KEY') ? `${f} private` : `${f} public`));

describe('ensureSecrets (the compose init step)', () => {
  it('gives each service its own private event key, the others public keys, its own bus password, and nothing more', () => {
    const l = layout();
    ensureSecrets(l, OWNER, NOW);
    const passwords = parseEnvFile(pem(l.init.busPasswords));
    for (const name of ['pairing', 'licensing', 'sync-agent'] as const) {
      const s = l.services[name];
      for (const source of ['pairing', 'licensing', 'sync-agent'])
        expect(keysOf(join(s.eventKeys, source))).toEqual([`20261207T100000Z.pem ${source === name ? 'private' : 'public'}`]);
      expect(pem(s.natsPassword).trim()).toBe(passwords[`${name.replace('-', '_').toUpperCase()}_NATS_PASSWORD`]);
      expect(readdirSync(s.dir).sort()).toEqual(
        [
          'event-keys',
          'nats-password',
          'operator-api-key',
          'postgres-password',
          ...(name === 'sync-agent' ? ['license-signing-keys'] : []),
        ].sort(),
      );
      expect(statSync(s.natsPassword).mode & 0o777).toBe(0o600);
    }
    expect(keysOf(l.licenseKeys)).toEqual(['20261207T100000Z.pem private']);
    expect(pem(l.busSetup.natsPassword).trim()).toBe(passwords.BUS_ADMIN_NATS_PASSWORD);
    expect(pem(l.nats.busPasswords)).toBe(pem(l.init.busPasswords));
    expect(pem(l.postgres.password)).toBe(pem(l.init.postgresPassword));
    expect(Object.values(passwords).every((p) => /^[A-Za-z]{32}$/.test(p))).toBe(true);
    expect(pem(l.init.operatorKey)).toMatch(/^hlsk_/);
  });

  it('changes nothing when run again, and never replaces a secret that exists', () => {
    const l = layout();
    ensureSecrets(l, OWNER, NOW);
    const before = [l.init.busPasswords, l.init.operatorKey, l.init.postgresPassword, l.services.pairing.natsPassword].map(pem);
    const again = ensureSecrets(l, OWNER, new Date('2027-01-01T00:00:00Z'));
    expect(again).toEqual({ created: [], updated: [], removed: [] });
    expect([l.init.busPasswords, l.init.operatorKey, l.init.postgresPassword, l.services.pairing.natsPassword].map(pem)).toEqual(
      before,
    );
    expect(readdirSync(join(l.services.pairing.eventKeys, 'pairing'))).toEqual(['20261207T100000Z.pem']);
  });

  it('brings a copy that drifted back to its source, and drops public keys whose owner no longer has them', () => {
    const l = layout();
    ensureSecrets(l, OWNER, NOW);
    rmSync(join(l.services.licensing.eventKeys, 'licensing', '20261207T100000Z.pem'));
    rmSync(l.services.pairing.operatorKey);
    const report = ensureSecrets(l, OWNER, new Date('2027-01-01T00:00:00Z'));
    expect(report.created).toEqual(
      expect.arrayContaining([
        l.services.pairing.operatorKey,
        join(l.services.licensing.eventKeys, 'licensing', '20270101T000000Z.pem'),
      ]),
    );
    expect(report.removed.sort()).toEqual(
      [
        join(l.services.pairing.eventKeys, 'licensing', '20261207T100000Z.pem'),
        join(l.services['sync-agent'].eventKeys, 'licensing', '20261207T100000Z.pem'),
      ].sort(),
    );
    expect(keysOf(join(l.services.pairing.eventKeys, 'licensing'))).toEqual(['20270101T000000Z.pem public']);
  });
});
