import { errorText } from '../core/errors.js';
import { RingStats } from '../cycle/ring-stats.js';
import type { EngineFault, OutgoingMessage } from '../engine/types.js';
import type { Logger } from '../log/logger.js';

export type SentKind = OutgoingMessage['type'] | 'clear-offer';

export interface TradingHostStats {
  /** Steps attempted (each input is one step). */
  steps: number;
  /** Steps whose transaction failed (the step was lost, the state did not advance). */
  failures: number;
  /**
   * Steps on which the engine threw: an engine bug. The input had no effect and the host kept running
   * on the state before it. Anything above 0 wants a look at the log (logged at error).
   */
  engineFaults: number;
  /** The last engine fault: `<event kind>: <error text>` and when; null before any. */
  lastEngineFault: { text: string; ts: number } | null;
  /** Messages enqueued, by type. */
  sent: Record<SentKind, number>;
  /** Step time (engine step + transaction), over the last STEP_SAMPLES steps; null before any. */
  stepMs: { p50: number | null; p99: number | null };
  lastError: string | null;
  /** Stored states that could not be restored at start (each kept in a meta key, see TradingHost.start). */
  restoreFailures: number;
  /** Rewrites of the engine_state row (each one the whole durable JSON) and their JSON bytes. */
  stateWrites: { rows: number; bytes: number };
}

const STEP_SAMPLES = 1024;
/** A repeating failure or fault (every cycle) is logged again at most this often. */
const LOG_INTERVAL_MS = 60_000;

/** The host's counters, and the throttled error log of lost steps and engine faults. */
export class HostCounters {
  steps = 0;
  failures = 0;
  restoreFailures = 0;
  readonly stateWrites = { rows: 0, bytes: 0 };
  readonly sent: Record<SentKind, number> = {
    offer: 0,
    'offer-request': 0,
    accept: 0,
    trade: 0,
    reject: 0,
    ack: 0,
    settlement: 0,
    'clear-offer': 0,
  };
  readonly stepMs = new RingStats(STEP_SAMPLES);
  private engineFaults = 0;
  private lastEngineFault: { text: string; ts: number } | null = null;
  private lastError: string | null = null;
  private readonly logged = { error: Number.NEGATIVE_INFINITY, fault: Number.NEGATIVE_INFINITY };

  constructor(private readonly log: Logger) {}

  /** A step was lost (its transaction failed). */
  lostStep(err: unknown, what: string, now: number): void {
    this.failures++;
    const text = `${what}: ${errorText(err)}`;
    if (text !== this.lastError || now - this.logged.error >= LOG_INTERVAL_MS) {
      this.logged.error = now;
      this.log.error({ err, step: what }, 'trading: step lost, state not advanced');
    }
    this.lastError = text;
  }

  /** The engine threw on an input: counted, logged, and the host goes on from the state before it. */
  engineFault(fault: EngineFault, now: number): void {
    this.engineFaults++;
    const text = `${fault.event}: ${fault.text}`;
    if (text !== this.lastEngineFault?.text || now - this.logged.fault >= LOG_INTERVAL_MS) {
      this.logged.fault = now;
      this.log.error(
        { err: fault.error, step: fault.event, engineFaults: this.engineFaults },
        'trading: the engine failed on an input (a bug); the input is dropped, the state kept as it was',
      );
    }
    this.lastEngineFault = { text, ts: now };
  }

  get lastErrorText(): string | null {
    return this.lastError;
  }

  snapshot(): TradingHostStats {
    return {
      steps: this.steps,
      failures: this.failures,
      engineFaults: this.engineFaults,
      lastEngineFault: this.lastEngineFault === null ? null : { ...this.lastEngineFault },
      sent: { ...this.sent },
      stepMs: { p50: this.stepMs.quantile(0.5), p99: this.stepMs.quantile(0.99) },
      lastError: this.lastError,
      restoreFailures: this.restoreFailures,
      stateWrites: { ...this.stateWrites },
    };
  }
}
