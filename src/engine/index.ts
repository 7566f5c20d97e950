import { EngineStateError, initialDurable, initialVolatile, parseDurable, toState } from './state.js';
import { step } from './step.js';
import type { Engine, EngineConfig } from './types.js';

/**
 * The pure trading engine: `step(state, event, now) → { state, commands }`. No clock, timers, randomness
 * or I/O: the host feeds it events and carries out its commands. The behaviour is in docs/protocol.md.
 */
export function createEngine(config: EngineConfig): Engine {
  return {
    config,
    initial: (now) => toState(initialDurable(), initialVolatile(config, now)),
    restore: (durable, now) => toState(parseDurable(durable), initialVolatile(config, now)),
    step: (state, event, now) => step(config, state, event, now),
  };
}

export { slotStart } from './slots.js';
export type * from './types.js';
export { deals, ownOffers, summary, totals } from './views.js';
export { EngineStateError };
