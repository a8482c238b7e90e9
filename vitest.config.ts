import { defineConfig } from 'vitest/config';

// Unit tests live beside the code (engine/src/**/*.test.ts, operator/src/**/*.test.ts); integration tests that start a real
// engine process and talk gRPC to it live under test/.
export default defineConfig({
  test: {
    include: ['engine/src/**/*.test.ts', 'operator/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Engine processes use both cores; run test files one at a time so timings stay meaningful.
    fileParallelism: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
