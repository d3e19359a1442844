import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test time is spent waiting on servers, git and runners, not computing: three files at a time
    // on two cores keep both busy (the main suite: 656 s, against 802 s with two and before this
    // session's trims of slow tests).
    maxWorkers: 3,
    minWorkers: 1,
  },
});
