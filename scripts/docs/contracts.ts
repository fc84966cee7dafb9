/**
 * The published contracts, generated from the code: docs/asyncapi.yaml (AsyncAPI 3.0: every event, from EVENT_CATALOG
 * and its zod schemas) and docs/openapi/<service>.yaml (OpenAPI 3.1, one per service with its own server: from the
 * routes the controllers declare and each service's OperationDocs). `npm run docs:contracts` writes them;
 * `generateContractDocs()` is what a test compares the checked-in files with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { stringify } from 'yaml';
import { PAIRING_API, PAIRING_SCHEMAS, PairingModule } from '../../apps/pairing/src/index.js';
import { LICENSING_API, LICENSING_SCHEMAS, LicensingModule } from '../../apps/licensing/src/index.js';
import { SYNC_AGENT_API, SYNC_AGENT_SCHEMAS, SyncAgentModule } from '../../apps/sync-agent/src/index.js';
import { asyncApiDocument } from './asyncapi.js';
import { openApiDocument } from './openapi.js';

/** The repository root (this file is scripts/docs/contracts.ts, or dist/scripts/docs/contracts.js). */
const HERE = fileURLToPath(new URL('.', import.meta.url));
export const REPO_ROOT = join(HERE, HERE.includes(`${'/dist/'}`) ? '../../..' : '../..');

const HEADER = '# Generated from the code by `npm run docs:contracts`; do not edit (a test checks it is up to date).\n';

/** Every generated document by its path relative to the repository root, formatted as the repository formats YAML. */
export async function generateContractDocs(): Promise<Record<string, string>> {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const documents: Record<string, unknown> = {
    'docs/asyncapi.yaml': asyncApiDocument(version),
    'docs/openapi/pairing.yaml': openApiDocument(PAIRING_API, PAIRING_SCHEMAS, PairingModule, version),
    'docs/openapi/licensing.yaml': openApiDocument(LICENSING_API, LICENSING_SCHEMAS, LicensingModule, version),
    'docs/openapi/sync-agent.yaml': openApiDocument(SYNC_AGENT_API, SYNC_AGENT_SCHEMAS, SyncAgentModule, version),
  };
  const options = (await resolveConfig(join(REPO_ROOT, 'docs', 'asyncapi.yaml'))) ?? {};
  const texts: Record<string, string> = {};
  for (const [path, document] of Object.entries(documents))
    texts[path] = await format(HEADER + stringify(document, { lineWidth: 0, aliasDuplicateObjects: false }), {
      ...options,
      parser: 'yaml',
    });
  return texts;
}
