// Lint rules for the whole tree (npm run lint, part of npm test). Type-aware, so that the
// promise rules see which calls return promises: a floating promise or a promise passed
// where a callback's result is ignored hides a failed write.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'src/dashboard/browser/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test() and describe() return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  { files: ['scripts/**', 'bin/**', '*.js', 'test/**/*.mjs'], languageOptions: { globals: globals.node } },
  // The dashboard's browser files: plain scripts for the browser, uPlot loaded before them.
  { files: ['src/dashboard/browser/**'], languageOptions: { globals: { ...globals.browser, uPlot: 'readonly' } } },
);
