import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['runner/**/*.test.ts', 'harness/**/*.test.ts', 'test/**/*.test.ts'],
    // A cap, not a speed target: integration tests start registries, agents and servers on a shared 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests start registries and mount overlays; two workers match the 2-core CI machine.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
