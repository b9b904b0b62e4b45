// Jest runs TypeScript through SWC (fast, no type-checking: `npm run typecheck` does that).
// kysely and jose (pulled in by jwks-rsa) ship ESM only; Jest's CommonJS runtime cannot
// require them, so SWC transforms those packages too instead of ignoring node_modules.
const esmOnly = ['kysely', 'jose'];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // The gateway's tests, and the TypeScript client's (client/test), which run against a real gateway.
  roots: ['<rootDir>/test', '<rootDir>/client/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  setupFilesAfterEnv: ['<rootDir>/test/support/leak-guard.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.js',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testTimeout: 20000,
};
