import { defineConfig } from 'vitest/config';

// Two projects: "unit" is pure logic and runs in parallel; "integration" talks to the real
// servers that test/setup/regions.global-setup.ts starts once per run, one file at a time
// because chaos-style tests kill and pause shared brokers.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/setup/regions.global-setup.ts'],
          setupFiles: ['test/setup/links-baseline.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
