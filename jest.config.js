// jest runs the ESM-only NestJS 12 in its native ESM mode (NODE_OPTIONS=--experimental-vm-modules, set by
// `npm test`), with swc emitting decorator metadata that Nest's injection and TypeORM read.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/apps', '<rootDir>/bench', '<rootDir>/libs', '<rootDir>/scripts', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  moduleNameMapper: {
    '^#shared$': '<rootDir>/libs/shared/src/index.ts',
    '^#shared/contracts$': '<rootDir>/libs/shared/src/contracts/index.ts',
    '^#shared/tools$': '<rootDir>/libs/shared/src/tools.ts',
    '^#shared/testing$': '<rootDir>/libs/shared/src/testing/index.ts',
    '^#shared/testing/decider$': '<rootDir>/libs/shared/src/testing/decider-spec.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2023',
        },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  // Integration and end-to-end suites share one PostgreSQL and one NATS; each file isolates itself
  // (own schema/database and stream names), so files may run in parallel.
  testTimeout: 30_000,
};
