import { defineConfig } from 'vitest/config';

// Two projects: `unit` (no engines) and `integration` (real Kafka, Redis and chDB). The integration
// project shares one stack per run (test/global-setup.ts); its test files isolate themselves by unique
// customer ids, consumer groups and key prefixes. chDB is opened per test file (one data directory per
// process). `./touchstream test` runs both; `./touchstream test --project unit` only the fast one.
export default defineConfig({
  test: {
    pool: 'forks',
    // 2 cores: Kafka's JVM and chDB need their share.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/**/*.test.ts', 'services/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/**/*.integration.test.ts', 'services/**/*.integration.test.ts', 'test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 90_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
