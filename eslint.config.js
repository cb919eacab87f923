// @ts-check
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/*
 * The rules that keep the house: no floating promises (a forgotten await loses an error or a write),
 * no import cycles, nothing but the config module reads process.env, no deep imports into another
 * package (each package's index.ts is its surface), no test kit in production code, and BullMQ's
 * producers and workers only in packages/queues (the one room that owns BullMQ).
 */
const testkit = { name: '@spool/testkit', message: 'Production code must not depend on the test kit.' };
const bullmq = {
  name: 'bullmq',
  importNames: ['Queue', 'Worker', 'FlowProducer', 'QueueEvents'],
  message: 'BullMQ is owned by packages/queues: enqueue through JobQueues, start workers with startWorker.',
};
const productionPatterns = [
  { group: ['@spool/*/src', '@spool/*/src/*'], message: 'Import a package by its name; its index.ts is its public surface.' },
  { regex: '^(\\.\\./)+(packages|services|test)/', message: 'Import another package by its name (@spool/...), not by a relative path.' },
];
export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'bench/results/**', '.data/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js'] })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@spool/*/src', '@spool/*/src/*'], message: 'Import a package by its name; its index.ts is its public surface.' },
            { regex: '^(\\.\\./)+(packages|services)/', message: 'Import another package by its name (@spool/...), not by a relative path.' },
          ],
        },
      ],
    },
  },
  {
    // Production code: configuration is parsed once, in packages/runtime/src/config.ts.
    files: ['packages/*/src/**/*.ts', 'services/*/src/**/*.ts'],
    // main.ts is the composition root: it hands process.env to loadConfig, once.
    ignores: ['**/*.test.ts', 'packages/runtime/src/config.ts', 'services/*/src/main.ts', 'packages/testkit/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration through loadConfig (packages/runtime/src/config.ts).' }],
    },
  },
  {
    files: ['packages/*/src/**/*.ts', 'services/*/src/**/*.ts'],
    ignores: ['**/*.test.ts', 'packages/testkit/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [testkit, bullmq], patterns: productionPatterns }] },
  },
  {
    files: ['packages/queues/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [testkit], patterns: productionPatterns }] },
  },
  {
    // Micro benchmarks time one internal module alone, so they import it by path.
    files: ['bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
