/**
 * `npm run verify-license -- <document.json> --keys <keys.json | URL> --serial <SERIAL> [--at <ISO-8601>]`
 *
 * Verifies a signed license document offline, as an appliance would: prints `valid: ...` and exits 0, or
 * `invalid: <REASON> — <detail>` and exits 1. Exit 2: wrong usage, or a file or the key set could not be read.
 * `--keys` is the answer of GET /.well-known/license-signing-keys, saved to a file or fetched from its URL.
 * Imports only the verifier (node:crypto), not the services' framework.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { publicKeysOfKeySet, verifyLicenseDocument, type LicenseDocumentV1 } from '#shared/tools';

const USAGE = `usage: npm run verify-license -- <document.json | -> --keys <keys.json | URL> --serial <SERIAL> [--at <ISO-8601>] [--clock-tolerance <seconds>]

  <document.json>      the signed document (GET /products/:serial/license-document); "-" reads standard input
  --keys               the published keys (GET /.well-known/license-signing-keys), as a file or that URL
  --serial             the serial of the unit the document must be for
  --at                 check validity at this instant instead of now
  --clock-tolerance    seconds of clock disagreement to allow at either end of the validity period (default 0)

exit status: 0 valid, 1 invalid, 2 usage or input error`;

/** Wrong usage or unreadable input: not a verdict on the document. */
class UsageError extends Error {}

function options(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        keys: { type: 'string' },
        serial: { type: 'string' },
        at: { type: 'string' },
        'clock-tolerance': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1)
    throw new UsageError(positionals.length === 0 ? 'no document file given' : 'give exactly one document file');
  if (!values.keys) throw new UsageError('--keys is required');
  if (!values.serial) throw new UsageError('--serial is required');
  const now = values.at === undefined ? new Date() : new Date(values.at);
  if (Number.isNaN(now.getTime()) || (values.at !== undefined && !/^\d{4}-\d{2}-\d{2}T/.test(values.at)))
    throw new UsageError(`--at must be an ISO-8601 instant, e.g. 2025-06-01T12:00:00Z (got "${values.at}")`);
  const tolerance = Number(values['clock-tolerance'] ?? '0');
  if (!Number.isFinite(tolerance) || tolerance < 0)
    throw new UsageError('--clock-tolerance must be a number of seconds, 0 or more');
  return { document: positionals[0]!, keys: values.keys, serial: values.serial, now, tolerance };
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
}

async function keySetText(source: string): Promise<string> {
  if (!/^https?:\/\//i.test(source)) return readText(source, 'key set');
  try {
    const response = await fetch(source, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.text();
  } catch (error) {
    throw new UsageError(`cannot fetch the key set from ${source}: ${(error as Error).message}`);
  }
}

function summary(document: LicenseDocumentV1): string {
  const pair =
    document.pairId === null ? document.role : `${document.role} of pair ${document.pairId}, peer ${document.peerSerial}`;
  const skus = document.licenses.map((l) => l.sku).join(', ') || 'none';
  return (
    `valid: license document for ${document.serial} (${pair}), signed with key "${document.kid}", ` +
    `issued ${document.issuedAt}, expires ${document.expiresAt}; ${document.licenses.length} license(s): ${skus}; ` +
    `stateful sync ${document.statefulSync.enabled ? 'enabled' : `disabled (${document.statefulSync.reason})`}`
  );
}

async function main(): Promise<number> {
  const args = options(process.argv.slice(2));
  const document = readText(args.document, 'document');
  let publicKeys;
  try {
    publicKeys = publicKeysOfKeySet(JSON.parse(await keySetText(args.keys)));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`the key set ${args.keys} is not usable: ${(error as Error).message}`);
  }
  const result = verifyLicenseDocument(document, {
    publicKeys,
    expectedSerial: args.serial,
    now: args.now,
    clockToleranceSeconds: args.tolerance,
  });
  if (result.valid) {
    console.log(summary(result.document));
    return 0;
  }
  console.log(`invalid: ${result.reason} — ${result.detail}`);
  return 1;
}

main().then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    // Anything but a verdict exits 2, so that 1 always means "the document is not valid".
    console.error(
      error instanceof UsageError
        ? `verify-license: ${error.message}\n\n${USAGE}`
        : `verify-license: ${error.stack ?? error.message}`,
    );
    process.exitCode = 2;
  },
);
