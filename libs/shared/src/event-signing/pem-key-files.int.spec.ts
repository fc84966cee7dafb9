import { afterEach, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callUnprivileged } from '../testing/unprivileged.js';
import { describeKeyFileError } from './pem-key-files.js';

/** The compiled module, called from a process that may not read what the test locks away. */
const COMPILED = fileURLToPath(new URL('../../../../dist/libs/shared/src/event-signing/index.js', import.meta.url));

const dirs: string[] = [];
// What a test locked (mode 0000) is unlocked first, so that a run as a user other than root can delete it.
afterEach(() => dirs.splice(0).forEach((d) => (chmodTree(d), rmSync(d, { recursive: true, force: true }))));

function chmodTree(dir: string): void {
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) chmodTree(join(dir, entry.name));
    else chmodSync(join(dir, entry.name), 0o600);
  }
}

/** A directory another user may enter (as a volume's mount point is), holding `<source>/key.pem` per source. */
function keyDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pem-keys-'));
  dirs.push(dir);
  chmodSync(dir, 0o755);
  for (const source of ['pairing', 'licensing', 'sync-agent']) {
    mkdirSync(join(dir, source), { mode: 0o755 });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, source, 'key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o644 });
  }
  return dir;
}

const settings = (dir: string) => ({ dir, configured: true, signingKeyId: undefined, production: true });

describe('reading keys this process may not read', () => {
  it('says "permission denied", naming the file, its owner and mode, and who asked', () => {
    const dir = keyDirectory();
    const file = join(dir, 'pairing', 'key.pem');
    chmodSync(file, 0o000);
    const outcome = callUnprivileged(COMPILED, 'readPemKey', [join(dir, 'pairing'), 'key.pem', 'events are signed with Ed25519']);
    expect(outcome).toEqual({
      threw: expect.objectContaining({
        message: expect.stringMatching(
          new RegExp(`^${file}: permission denied \\(owner uid \\d+, mode 0000; this process runs as uid \\d+\\)$`),
        ),
      }),
    });
  });

  it('reports a key directory it may not look into as unreadable, not as holding no key', () => {
    const dir = keyDirectory();
    chmodSync(dir, 0o000); // another user's directory, as a host folder mounted into a container can be
    const outcome = callUnprivileged(COMPILED, 'loadEventKeyRing', [settings(dir), 'pairing']);
    expect(outcome).toEqual({
      threw: expect.objectContaining({
        problems: [expect.stringMatching(new RegExp(`^EVENT_KEYS_DIR: ${join(dir, 'pairing')}: permission denied`))],
      }),
    });
  });

  it('reports a key directory it may not list as unreadable', () => {
    const dir = keyDirectory();
    chmodSync(join(dir, 'licensing'), 0o000);
    const outcome = callUnprivileged(COMPILED, 'loadEventKeyRing', [settings(dir), 'pairing']);
    expect(outcome).toEqual({
      threw: expect.objectContaining({
        problems: [expect.stringMatching(new RegExp(`^EVENT_KEYS_DIR: ${join(dir, 'licensing')}: permission denied`))],
      }),
    });
  });

  it('still reads the keys it may read', () => {
    const dir = keyDirectory();
    const outcome = callUnprivileged(COMPILED, 'pemFilesIn', [join(dir, 'pairing')]);
    expect(outcome).toEqual({ returned: ['key.pem'] });
  });
});

describe('describeKeyFileError', () => {
  it('names a missing file as missing and passes other errors on with the path', () => {
    const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    const eisdir = Object.assign(new Error('EISDIR: illegal operation on a directory'), { code: 'EISDIR' });
    expect(describeKeyFileError('/keys/a.pem', enoent)).toBe('/keys/a.pem does not exist');
    expect(describeKeyFileError('/keys/a.pem', eisdir)).toBe('/keys/a.pem: EISDIR: illegal operation on a directory');
  });
});
