/**
 * The published contracts (docs/asyncapi.yaml, docs/openapi/<service>.yaml) are generated from the code: regenerating
 * them changes nothing, they validate with no errors, each OpenAPI document names one server (its own service's port),
 * and no optional request field reads as required to a client generator.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { validate } from '@readme/openapi-parser';
import { parse } from 'yaml';
import { EVENT_CATALOG, busNames, type EventType } from '#shared/contracts';
import { REPO_ROOT, generateContractDocs } from '../scripts/docs/contracts.js';
import { pairStreamId, productStreamId } from '../apps/pairing/src/index.js';
import { licenseStreamId } from '../apps/licensing/src/index.js';
import { effectiveLicensesStreamId, statefulSyncStreamId } from '../apps/sync-agent/src/index.js';

jest.setTimeout(60_000);

const generated = await generateContractDocs();
const OPENAPI = ['pairing', 'licensing', 'sync-agent'].map((service) => `docs/openapi/${service}.yaml`);
const checkedIn = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('the generated contracts', () => {
  it('are the checked-in files: `npm run docs:contracts` changes nothing', () => {
    expect(Object.keys(generated).sort()).toEqual(['docs/asyncapi.yaml', ...OPENAPI].sort());
    for (const [path, text] of Object.entries(generated))
      expect({ path, upToDate: checkedIn(path) === text }).toEqual({ path, upToDate: true });
  });

  it('docs/asyncapi.yaml is a valid AsyncAPI 3.0 document, without errors or warnings', async () => {
    const { document, diagnostics } = await new Parser().parse(checkedIn('docs/asyncapi.yaml'));
    // 0 = error, 1 = warning (2, 3: information, hints such as "3.1 exists")
    expect(
      diagnostics.filter((d) => Number(d.severity) <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`),
    ).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    expect(
      document
        ?.channels()
        .all()
        .map((c) => c.id())
        .sort(),
    ).toEqual(Object.keys(EVENT_CATALOG).sort());
  });

  it.each(OPENAPI)('%s is a valid OpenAPI 3.1 document', async (path) => {
    const result = await validate(parse(checkedIn(path)) as Parameters<typeof validate>[0]);
    expect({ errors: result.valid ? [] : result.errors, warnings: result.warnings }).toEqual({ errors: [], warnings: [] });
  });

  it.each(OPENAPI)('%s names one server, its own service, and no operation overrides it', (path) => {
    const doc = parse(checkedIn(path)) as Doc;
    const port = { pairing: '3001', licensing: '3002', 'sync-agent': '3003' }[path.split('/').at(-1)!.replace('.yaml', '')];
    expect(doc.servers).toEqual([{ url: `http://127.0.0.1:${port}`, description: expect.any(String) }]);
    for (const item of Object.values(doc.paths as Doc)) {
      expect(item.servers).toBeUndefined();
      for (const operation of Object.values(item as Doc)) expect((operation as Doc).servers).toBeUndefined();
    }
  });

  it.each(OPENAPI)(
    '%s: every request field that may be left out is optional, with no `default` a generator would make required',
    (path) => {
      const doc = parse(checkedIn(path)) as Doc;
      const text = JSON.stringify(doc.paths) + JSON.stringify(doc.components.schemas);
      const bodies = Object.values(doc.paths as Doc).flatMap((item) =>
        Object.values(item as Doc).flatMap((op) =>
          (op as Doc).requestBody ? [(op as Doc).requestBody.content['application/json'].schema] : [],
        ),
      );
      for (const body of bodies) {
        const schema: unknown = body.$ref ? doc.components.schemas[String(body.$ref).split('/').at(-1)!] : body;
        expect(JSON.stringify(schema)).not.toContain('"default"');
      }
      if (path.endsWith('licensing.yaml')) expect(doc.components.schemas.GrantLicenseRequest.required).toEqual(['sku']);
      expect(text.length).toBeGreaterThan(0);
    },
  );

  it('documents every event with its stream, subject and streamId format, as the producers write them', () => {
    const doc = parse(checkedIn('docs/asyncapi.yaml')) as Doc;
    const names = busNames('');
    const streamIds: Record<string, (id: string) => string> = {
      'product-<serial>': productStreamId,
      'pair-<pairId>': pairStreamId,
      'license-<licenseId>': licenseStreamId,
      'effective-licenses-<serial>': effectiveLicensesStreamId,
      'stateful-sync-<pairId>': statefulSyncStreamId,
    };
    for (const type of Object.keys(EVENT_CATALOG) as EventType[]) {
      const contract = EVENT_CATALOG[type];
      expect(doc.channels[type].address).toMatch(
        new RegExp(`^${contract.source}\\.v${contract.schemaVersion}\\.${contract.subjectToken}\\.\\{[a-zA-Z]+\\}$`),
      );
      const format = streamIds[contract.streamIdFormat];
      expect({ type, known: format !== undefined }).toEqual({ type, known: true });
      expect(format!('X')).toBe(contract.streamIdFormat.replace(/<[a-zA-Z]+>/, 'X'));
      expect(doc.components.messages[type].description).toContain(names.stream(contract.source));
    }
  });
});
