import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'runtime/**/*.test.ts',
      'api/**/*.test.ts',
      'client/**/*.test.ts',
      'server/**/*.test.ts',
      'edge/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    // Each file in its own process: the suites spawn real workers and servers.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
