import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': 'off',
    },
  },
  {
    // The pure core: no clocks, timers or I/O.
    files: ['agent/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'process'],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'core is pure: time is an argument' },
        { object: 'performance', property: 'now', message: 'core is pure: time is an argument' },
        { object: 'Math', property: 'random', message: 'core is pure: randomness is an argument' }],
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'mqtt', 'pino', '../adapters/*', '../runtime/*'] }],
    },
  },
);
