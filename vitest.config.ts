import { defineConfig } from 'vitest/config';

// Three tiers, each a vitest project that can run alone (`./touchstream test --project <name>`):
//   unit         `*.test.ts` beside the code; no engines.
//   integration  `*.integration.test.ts` beside the code, against the real engines (Kafka, Redis, chDB).
//   integration-cluster  the Redis suites of integration again, on a 3-master Redis Cluster.
//   e2e          suites under test/: whole processes, chaos, shutdown, fuzz, quality, telemetry.
// integration and e2e share one stack per run (tools/testkit/src/global-setup.ts); their test files isolate
// themselves by unique customer ids, consumer groups and key prefixes. chDB is opened per test file (one
// data directory per process).
const code = ['packages', 'services', 'apps', 'tools'];
const redisSuites = [
  'services/processor/src/{processor,signals,alert-context}.integration.test.ts',
  'services/query/src/{query,analytics}.integration.test.ts',
  'services/notifier/src/notifier.integration.test.ts',
];
const stackTier = { globalSetup: ['tools/testkit/src/global-setup.ts'], testTimeout: 90_000, hookTimeout: 180_000 };

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
          include: code.map((dir) => `${dir}/**/*.test.ts`),
          exclude: ['**/*.integration.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: { name: 'integration', include: code.map((dir) => `${dir}/**/*.integration.test.ts`), exclude: ['**/node_modules/**'], ...stackTier },
      },
      {
        // The suites that use Redis, again on the run's 3-master Redis Cluster (docs/architecture.md §18).
        extends: true,
        test: { name: 'integration-cluster', include: redisSuites, ...stackTier },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/**/*.test.ts'], ...stackTier },
      },
    ],
  },
});
