/**
 * The architecture's dependency rules, checked by `npm run check:deps` (part of `npm run check`).
 * Each rule was proven once against a planted violation (see docs/decisions.md).
 */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'Domain code is pure decide/evolve: no framework, driver or client, and only the pure part of libs/shared.',
      severity: 'error',
      from: { path: '^apps/[^/]+/src/domain/' },
      to: {
        pathNot: [
          '^apps/[^/]+/src/domain/',
          '^libs/shared/src/(contracts|catalog|domain)/',
          '^libs/shared/src/testing/decider-spec[.]ts$',
          'node_modules/',
        ],
      },
    },
    {
      name: 'domain-imports-no-packages-but-contracts',
      comment: 'Only zod (contract schemas) and fast-check/jest (tests) may be loaded from npm by domain code.',
      severity: 'error',
      from: { path: '^apps/[^/]+/src/domain/' },
      to: { path: 'node_modules/', pathNot: 'node_modules/(zod|fast-check|@jest/globals)/' },
    },
    {
      name: 'apps-do-not-import-each-other',
      comment: 'Contracts in libs/shared are the only thing apps share.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'console-is-a-browser-client',
      comment: 'The web console is bundled for the browser and talks HTTP only: no server code (libs/shared) in it.',
      severity: 'error',
      from: { path: '^apps/console/' },
      to: { path: '^libs/' },
    },
    {
      name: 'libs-do-not-import-apps',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'shared-only-through-its-entry-points',
      comment:
        'Outside libs/shared, it is imported as #shared, #shared/contracts, #shared/tools or #shared/testing(/decider): ' +
        'never a file inside it, so what it offers is what its entry points say.',
      severity: 'error',
      from: { pathNot: '^libs/shared/' },
      to: {
        path: '^libs/shared/src/',
        pathNot: '^libs/shared/src/(index|tools|contracts/index|testing/index|testing/decider-spec)[.]ts$',
      },
    },
    {
      name: 'production-code-imports-no-testing-code',
      comment:
        'The services never load the test harness (libs/shared/src/testing: the test systems, private servers, fixtures); ' +
        'only specs, scripts, the benchmark and the tests do.',
      severity: 'error',
      from: { path: '^(apps/[^/]+/src|libs/shared/src)/', pathNot: ['[.]spec[.]ts$', '^libs/shared/src/testing/'] },
      to: { path: '^libs/shared/src/testing/' },
    },
    {
      name: 'tools-reach-apps-through-their-entry-points',
      comment: "Scripts and the benchmark use only what an app's src/index.ts offers, never its internals.",
      severity: 'error',
      from: { path: '^(scripts|bench)/' },
      to: { path: '^apps/', pathNot: '^apps/[^/]+/src/index[.]ts$' },
    },
    {
      name: 'examples-stand-alone',
      comment: 'An example is what another team could write: public npm packages only, no code of this repository.',
      severity: 'error',
      from: { path: '^examples/' },
      to: { path: '^(apps|libs|scripts|bench|test)/' },
    },
    {
      name: 'sync-agent-read-models-sit-beside-each-other',
      comment:
        "A sync-agent read model imports the domain, the facts (facts/) and its own folder, never a sibling's: what " +
        'two read models share belongs in facts/ or domain/ (docs/decisions.md §45).',
      severity: 'error',
      from: { path: '^apps/sync-agent/src/read-models/([^/]+)/' },
      to: {
        path: '^apps/sync-agent/src/',
        pathNot: '^apps/sync-agent/src/(domain|facts|infrastructure|read-models/$1)/',
      },
    },
    {
      name: 'sync-agent-facts-beneath-read-models',
      comment: 'The facts are what read models sit on: facts/ imports the domain only, never a read model.',
      severity: 'error',
      from: { path: '^apps/sync-agent/src/facts/' },
      to: { path: '^apps/sync-agent/src/', pathNot: '^apps/sync-agent/src/(domain|facts)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'default'],
      extensions: ['.ts', '.tsx', '.js'],
    },
  },
};
