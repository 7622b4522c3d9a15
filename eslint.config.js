import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'bin/',
      'eslint.config.js',
      'examples/',
      'src/api/generated*.ts',
      'src/master/http/generated*.ts',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'kysely',
              message: "import Kysely's values from src/lib/kysely.ts (its one-file bundle loads faster)",
              allowTypeImports: true,
            },
            {
              name: 'fastify',
              message: "import fastify's values from src/lib/fastify.ts (its one-file bundle loads faster)",
              allowTypeImports: true,
            },
          ],
          patterns: [{ group: ['**/test/**'], message: 'test helpers live in src/testing' }],
        },
      ],
    },
  },
  {
    // The panel's browser script: plain JavaScript served as it is (no build step), not type-checked.
    files: ['src/master/panel/static/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'script',
      parserOptions: { projectService: false },
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        EventSource: 'readonly',
        DOMParser: 'readonly',
        CSS: 'readonly',
        HTMLFormElement: 'readonly',
      },
    },
  },
);
