import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'client/dist/',
      '.build-test/',
      'node_modules/',
      'coverage/',
      'data/',
      'test/artifacts/',
      'examples/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // A promise nobody awaits is an unhandled rejection waiting to crash the server.
      '@typescript-eslint/no-floating-promises': 'error',
      // Express 5 catches a rejected promise returned by a handler or middleware and passes it to
      // the error handler, so async functions handed to Express (as call arguments) are safe; every
      // other place a void callback is expected (attributes, returns, spreads) stays checked.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      'no-console': 'off',
    },
  },
  {
    // Each capability is used through its index.ts: a deep import of another folder's file
    // couples to its internals.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../*/*'],
              message: "Import another module through its index ('../<module>'), not its internal files.",
            },
          ],
        },
      ],
    },
  },
  {
    // supertest response bodies and jest matchers are typed `any`; tests may read them freely.
    files: ['test/**/*.ts', 'client/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Test doubles implement async interfaces; `async` keeps a throw inside them a rejection,
      // as in the real implementations, even when they have nothing to await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
