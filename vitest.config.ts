import { defineConfig } from 'vitest/config';

// Fault tests spawn real brokers, simulators and controller processes: keep files in parallel on the
// two cores but give the slow ones room. Long soak/chaos modes are opted into with POWERDEAL_LONG=1.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
