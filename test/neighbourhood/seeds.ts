import { describe, expect, it } from 'vitest';
import {
  ALL_FAULTS,
  checkInvariants,
  type FaultProfile,
  type NeighbourhoodReport,
  runNeighbourhood,
} from '../../src/neighbourhood/index.js';
import { scale, timeoutFor } from '../helpers/long.js';

/**
 * The many-seeds suite: every seed runs a neighbourhood with every fault on, then the invariants are
 * checked; a failure names the seed and the broken invariants. Seeds vary the broker (MQTT 5, 3.1.1, or
 * 3.1.1 without retained delivery to wildcards),
 * the rogue client (on in two seeds out of three) and the slot length. POWERDEAL_LONG=1 runs ten times
 * the seeds with more homes and longer days. Eight files of 25 seeds: 200 in CI.
 */
export const SEEDS_PER_FILE = scale(25, 250);
const HOMES = scale(6, 10);
const HOURS = scale(3, 6);

export function faultsFor(seed: number): FaultProfile {
  return {
    ...ALL_FAULTS,
    legacyBroker: seed % 2 === 1,
    // One seed in four runs on a broker like RabbitMQ 3.10: 3.1.1, no retained offers to a wildcard.
    noRetainedToWildcard: seed % 4 === 3,
    roguePerHour: seed % 3 === 0 ? 0 : ALL_FAULTS.roguePerHour,
  };
}

export function runSeed(seed: number): Promise<NeighbourhoodReport> {
  return runNeighbourhood({
    seed,
    homes: HOMES,
    hours: HOURS,
    faults: faultsFor(seed),
    slotMinutes: seed % 4 === 0 ? 5 : 15,
    startHour: 8 + (seed % 4),
  });
}

/** Runs seeds first..first+SEEDS_PER_FILE−1, then checks that together they met every fault. */
export function seedSuite(first: number): void {
  const seeds = Array.from({ length: SEEDS_PER_FILE }, (_, i) => first + i);
  const seen = { trades: 0, settled: 0, rejects: 0, rogueReasons: new Set<string>() };
  const crashes = { betweenSteps: 0, afterCommit: 0, midCommit: 0 };
  const faults: Record<string, number> = {};

  describe(`neighbourhood seeds ${first}..${first + SEEDS_PER_FILE - 1} (${HOMES} homes × ${HOURS} h, all faults)`, () => {
    it.each(seeds)(
      'seed %i keeps every invariant',
      async (seed) => {
        const report = await runSeed(seed);
        const result = checkInvariants(report);
        expect(result.violations.map((v) => `seed ${v.seed} ${v.invariant}: ${v.detail}`)).toEqual([]);
        expect(result.ok).toBe(true);
        seen.trades += report.trades;
        seen.settled += result.summary.settled;
        seen.rejects += Object.values(report.rejects).reduce((a, b) => a + b, 0);
        for (const [reason, n] of Object.entries(report.rogue)) if (n > 0) seen.rogueReasons.add(reason);
        const { crashes: died, ...rest } = report.injected;
        for (const point of ['betweenSteps', 'afterCommit', 'midCommit'] as const)
          crashes[point] += died[point];
        for (const [k, n] of Object.entries(rest)) faults[k] = (faults[k] ?? 0) + n;
      },
      timeoutFor(60_000, 600_000),
    );

    it('the seeds together traded, settled and met every fault', () => {
      expect(seen.trades).toBeGreaterThan(SEEDS_PER_FILE * 10);
      expect(seen.settled).toBeGreaterThan(SEEDS_PER_FILE * 5);
      expect(seen.rejects).toBeGreaterThan(0);
      // Processes died at each point: between steps, right after a commit, in the middle of one.
      for (const [point, n] of Object.entries(crashes)) expect(n, point).toBeGreaterThan(0);
      for (const kind of [
        'dropped',
        'delayed',
        'duplicated',
        'reordered',
        'publishesLost',
        'pubacksLost',
        'partitions',
        'meterFaults',
        'rogueMessages',
      ]) {
        expect(faults[kind], kind).toBeGreaterThan(0);
      }
      for (const reason of [
        'not-json',
        'oversized',
        'bad-envelope',
        'unsigned',
        'bad-signature',
        'unknown-sender',
      ]) {
        expect(seen.rogueReasons.has(reason), reason).toBe(true);
      }
    });
  });
}
