import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  publicKeysOfKeySet,
  verifyLicenseDocument,
  type EffectiveLicenseSetV1,
  type LicenseSigningKeySetV1,
  type SignedLicenseDocumentV1,
} from '#shared';
import {
  DAY_MS,
  REPO_ROOT,
  api,
  eventually,
  fromNow,
  randomSerial,
  startSystem,
  type Api,
  type RunningSystem,
} from './support/system.js';
import { driver } from './support/driver.js';

jest.setTimeout(60_000);

/** How long the sync agent may take to reflect a change (it consumes from JetStream asynchronously). */
const SYNC_TIMEOUT_MS = 15_000;
const CLI = join(REPO_ROOT, 'dist', 'scripts', 'verify-license.js');

let system: RunningSystem;
let pairing: Api;
let syncAgent: Api;
/** This file's signing keys: a retired key (public half only), an older and the newest private key. */
let keysDir: string;
let workDir: string;

const { register, grant } = driver(() => system, 'acct-doc');

beforeAll(async () => {
  keysDir = mkdtempSync(join(tmpdir(), 'e2e-license-keys-'));
  workDir = mkdtempSync(join(tmpdir(), 'e2e-license-docs-'));
  writeFileSync(join(keysDir, '2024-01.pem'), generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }));
  for (const kid of ['2024-07', '2025-01'])
    writeFileSync(
      join(keysDir, `${kid}.pem`),
      generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }),
    );
  system = await startSystem('license_doc', { env: { LICENSE_SIGNING_KEYS_DIR: keysDir } });
  pairing = api(system.pairing);
  syncAgent = api(system.syncAgent);
}, 60_000);

afterAll(async () => {
  await system?.stop();
  for (const dir of [keysDir, workDir]) if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

// ---- driving the system -------------------------------------------------------------------------------

async function publishedKeys(): Promise<LicenseSigningKeySetV1> {
  const response = await syncAgent.get<LicenseSigningKeySetV1>('/.well-known/license-signing-keys');
  expect(response.status).toBe(200);
  return response.body;
}

async function licenseDocument(serial: string): Promise<SignedLicenseDocumentV1> {
  const response = await syncAgent.get<SignedLicenseDocumentV1>(`/products/${serial}/license-document`);
  expect(response.status).toBe(200);
  return response.body;
}

/** A Primary with two security services and stateful sync, paired with a Secondary that the sync agent already sees as covered. */
async function licensedPair(): Promise<{ primary: string; secondary: string; pairId: string }> {
  const primary = await register();
  const secondary = await register();
  await grant(primary, 'GATEWAY_AV', { expiresAt: fromNow(365 * DAY_MS) });
  await grant(primary, 'SUPPORT_24X7');
  await grant(primary, 'STATEFUL_SYNC');
  const response = await pairing.post<{ pairId: string }>('/pairs', { primarySerial: primary, secondarySerial: secondary });
  expect(response.status).toBe(201);
  const { pairId } = response.body;
  await eventually(
    async () => {
      const { body } = await syncAgent.get<EffectiveLicenseSetV1>(`/products/${secondary}/effective-licenses`);
      expect(body).toMatchObject({ role: 'secondary', pairId, statefulSync: { enabled: true } });
      expect(body.licenses.map((l) => l.sku)).toEqual(['GATEWAY_AV', 'SUPPORT_24X7']);
      return true;
    },
    { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 100, description: "the Secondary to share its Primary's licenses" },
  );
  return { primary, secondary, pairId };
}

/** Runs the compiled CLI; resolves with its exit code and output. */
function verifyCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the end-to-end tests`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS'));
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function saved(name: string, content: unknown): string {
  const path = join(workDir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

// ---- the tests ----------------------------------------------------------------------------------------

describe('GET /.well-known/license-signing-keys', () => {
  it('publishes every key of the directory, public halves only, and names the newest private key as active', async () => {
    const keySet = await publishedKeys();
    expect(keySet.activeKid).toBe('2025-01');
    expect(keySet.keys.map((k) => k.kid)).toEqual(['2024-01', '2024-07', '2025-01']);
    for (const key of keySet.keys)
      expect(key).toEqual({
        kid: key.kid,
        kty: 'OKP',
        crv: 'Ed25519',
        alg: 'EdDSA',
        use: 'sig',
        x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        publicKeyPem: expect.stringContaining('-----BEGIN PUBLIC KEY-----'),
      });
    expect(JSON.stringify(keySet)).not.toContain('PRIVATE');
  });
});

describe('GET /products/:serial/license-document', () => {
  it('answers 404 PRODUCT_NOT_FOUND for a product the sync agent has not seen, and 400 for a malformed serial', async () => {
    const unknown = await syncAgent.get(`/products/${randomSerial()}/license-document`);
    expect({ status: unknown.status, code: unknown.body.code }).toEqual({ status: 404, code: 'PRODUCT_NOT_FOUND' });
    const malformed = await syncAgent.get('/products/not-a-serial/license-document');
    expect({ status: malformed.status, code: malformed.body.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
  });

  describe("given a Secondary sharing its Primary's licenses", () => {
    let pair: { primary: string; secondary: string; pairId: string };
    let signed: SignedLicenseDocumentV1;
    let keySet: LicenseSigningKeySetV1;

    beforeAll(async () => {
      pair = await licensedPair();
      signed = await licenseDocument(pair.secondary);
      keySet = await publishedKeys();
    }, 60_000);

    const check = (document: unknown, expectedSerial = pair.secondary, now = new Date()) =>
      verifyLicenseDocument(document, { publicKeys: publicKeysOfKeySet(keySet), expectedSerial, now });

    it("returns the Secondary's effective set naming both serials, signed with the active key, valid for 7 days", async () => {
      const { body: set } = await syncAgent.get<EffectiveLicenseSetV1>(`/products/${pair.secondary}/effective-licenses`);
      const { document } = signed;
      expect(document).toEqual({
        version: 1,
        kid: '2025-01',
        issuedAt: expect.any(String),
        expiresAt: expect.any(String),
        serial: pair.secondary,
        role: 'secondary',
        peerSerial: pair.primary,
        pairId: pair.pairId,
        licenses: set.licenses,
        statefulSync: { enabled: true, reason: null },
      });
      expect(Date.parse(document.expiresAt) - Date.parse(document.issuedAt)).toBe(7 * DAY_MS);
      expect(Math.abs(Date.parse(document.issuedAt) - Date.now())).toBeLessThan(60_000);
      expect(signed.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    });

    it('verifies offline with the published keys, on the Secondary only', () => {
      expect(check(signed)).toEqual({ valid: true, document: signed.document });
      expect(check(JSON.stringify(signed))).toEqual({ valid: true, document: signed.document });
      expect(check(signed, pair.primary)).toMatchObject({ valid: false, reason: 'WRONG_SERIAL' });
    });

    it('fails verification once tampered with, or once its time-to-live has run out', () => {
      const tampered = JSON.parse(JSON.stringify(signed)) as { document: { licenses: { expiresAt: string | null }[] } };
      tampered.document.licenses[0]!.expiresAt = '2099-12-31T00:00:00.000Z';
      expect(check(tampered)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });

      const shortened = JSON.parse(JSON.stringify(signed)) as { document: { licenses: unknown[] } };
      shortened.document.licenses.pop();
      expect(check(shortened)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });

      const expiry = new Date(signed.document.expiresAt);
      expect(check(signed, pair.secondary, expiry)).toMatchObject({ valid: false, reason: 'EXPIRED' });
    });

    it("gives the Primary its own document, which the Secondary's check rejects", async () => {
      const primaryDocument = await licenseDocument(pair.primary);
      expect(primaryDocument.document).toMatchObject({ serial: pair.primary, role: 'primary', peerSerial: pair.secondary });
      expect(check(primaryDocument, pair.primary).valid).toBe(true);
      expect(check(primaryDocument, pair.secondary)).toMatchObject({ valid: false, reason: 'WRONG_SERIAL' });
    });

    describe('the verify-license command', () => {
      it('accepts the document file with the key set from a file or from its URL (exit 0)', async () => {
        const documentFile = saved('secondary.json', signed);
        const keysFile = saved('keys.json', keySet);
        const fromFile = await verifyCli([documentFile, '--keys', keysFile, '--serial', pair.secondary]);
        expect(fromFile).toEqual({ code: 0, stdout: expect.stringMatching(/^valid: license document for /), stderr: '' });
        expect(fromFile.stdout).toContain(`peer ${pair.primary}`);
        const fromUrl = await verifyCli([
          documentFile,
          '--keys',
          `${system.syncAgent}/.well-known/license-signing-keys`,
          '--serial',
          pair.secondary,
        ]);
        expect(fromUrl).toMatchObject({ code: 0, stdout: expect.stringMatching(/^valid: /) });
      });

      it('rejects the file once tampered with, for another serial, or after its expiry (exit 1, with the reason)', async () => {
        const keysFile = saved('keys.json', keySet);
        const tamperedFile = saved('tampered.json', JSON.stringify(signed).replace('"GATEWAY_AV"', '"CAPTURE_ATP"'));
        expect(await verifyCli([tamperedFile, '--keys', keysFile, '--serial', pair.secondary])).toEqual({
          code: 1,
          stdout: expect.stringMatching(/^invalid: BAD_SIGNATURE — /),
          stderr: '',
        });

        const documentFile = saved('secondary.json', signed);
        expect(await verifyCli([documentFile, '--keys', keysFile, '--serial', pair.primary])).toMatchObject({
          code: 1,
          stdout: expect.stringMatching(/^invalid: WRONG_SERIAL — /),
        });
        expect(
          await verifyCli([documentFile, '--keys', keysFile, '--serial', pair.secondary, '--at', signed.document.expiresAt]),
        ).toMatchObject({
          code: 1,
          stdout: expect.stringMatching(/^invalid: EXPIRED — /),
        });
        expect(
          await verifyCli([saved('garbage.json', 'not json'), '--keys', keysFile, '--serial', pair.secondary]),
        ).toMatchObject({
          code: 1,
          stdout: expect.stringMatching(/^invalid: MALFORMED — /),
        });
      });

      it('explains its usage when arguments are missing or wrong (exit 2)', async () => {
        const documentFile = saved('secondary.json', signed);
        for (const args of [
          [],
          [documentFile, '--serial', pair.secondary],
          [documentFile, '--keys', join(workDir, 'missing.json'), '--serial', 'X'],
        ]) {
          const result = await verifyCli(args);
          expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
          expect(result.stderr).toContain('usage: npm run verify-license');
        }
      });
    });
  });
});
