/**
 * The deterministic neighbourhood simulation: many homes (real store, host, engine, signatures, link)
 * around a simulated broker and a faulty network, on a simulated clock, with invariant checks.
 */
export type { WireMessage } from './broker.js';
export { ALL_FAULTS, type FaultCounts, type FaultProfile, NO_FAULTS } from './faults.js';
export {
  checkInvariants,
  INVARIANTS,
  type InvariantName,
  type InvariantReport,
  type Violation,
} from './invariants.js';
export type { HomeReport, NeighbourhoodReport } from './report.js';
export { type NeighbourhoodOptions, runNeighbourhood, SIM_ZONE } from './run.js';
