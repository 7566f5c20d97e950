import { errorText } from '../core/errors.js';
import { isSimFault, SIM_FAULTS, type Simulator } from './index.js';

/** One JSON line the simulator prints: an `event` name and its fields. */
export type SimEvent = { event: string } & Record<string, unknown>;

const CONTROL_HELP = [
  'fault <unit|all> <none|silence|exception|garbage|truncated|nan>',
  'pin pv <W>',
  'pin load <W>',
  'unpin',
  'status',
  'quit',
];

/** The state of a running simulator as one line: the truth flat, so `line.pvPowerW` reads directly. */
function statusEvent(sim: Simulator): SimEvent {
  return {
    event: 'status',
    simTime: new Date(sim.simTimeMs()).toISOString(),
    ...sim.truth(),
    exportLimitPct: sim.exportLimitPct(),
    faults: sim.faults(),
  };
}

/** Carries out one control line (from stdin) and says what happened. `quit` is the caller's to handle. */
export function runControlLine(sim: Simulator, line: string): SimEvent | null {
  const words = line.trim().split(/\s+/).filter(Boolean);
  const [verb, a, b] = words;
  const error = (message: string): SimEvent => ({ event: 'error', message });
  switch (verb) {
    case undefined:
      return null;
    case 'fault': {
      if (words.length !== 3 || a === undefined || b === undefined)
        return error('usage: fault <unit|all> <mode>');
      const unit = a === 'all' ? 'all' : Number(a);
      if (unit !== 'all' && !Number.isInteger(unit))
        return error(`unit must be a number or "all", got "${a}"`);
      if (!isSimFault(b)) return error(`fault must be one of ${SIM_FAULTS.join(', ')}, got "${b}"`);
      try {
        sim.setFault(unit, b);
      } catch (err) {
        return error(errorText(err));
      }
      return { event: 'fault', faults: sim.faults() };
    }
    case 'pin': {
      const watts = Number(b);
      if (words.length !== 3 || (a !== 'pv' && a !== 'load') || !(Number.isFinite(watts) && watts >= 0)) {
        return error('usage: pin pv|load <W>, W >= 0');
      }
      sim.pin(a === 'pv' ? { pvPowerW: watts } : { loadPowerW: watts });
      return { ...statusEvent(sim), event: 'pinned' };
    }
    case 'unpin':
      sim.unpin();
      return { ...statusEvent(sim), event: 'unpinned' };
    case 'status':
      return statusEvent(sim);
    case 'help':
      return { event: 'help', commands: CONTROL_HELP };
    default:
      return error(`unknown command "${verb}"; commands: ${CONTROL_HELP.join(' | ')}`);
  }
}
