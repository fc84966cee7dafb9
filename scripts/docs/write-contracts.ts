/** `npm run docs:contracts`: writes the generated contracts (see contracts.ts) into docs/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT, generateContractDocs } from './contracts.js';

for (const [path, text] of Object.entries(await generateContractDocs())) {
  mkdirSync(dirname(join(REPO_ROOT, path)), { recursive: true });
  writeFileSync(join(REPO_ROOT, path), text);
  console.log(`wrote ${path}`);
}
// The services' modules leave nothing open, but a NATS or PostgreSQL client module loaded with them might.
process.exit(0);
