import type { Clock } from '../core/clock.js';

/**
 * The drain's circuit breaker, on the link's clock. Closed: every publish goes; `threshold` consecutive
 * failures (a retryable refusal or a PUBACK timeout) open it. Open: nothing goes until the half-open delay
 * has passed, then one publish goes as the probe (half-open). The probe's success closes the breaker; its
 * failure opens it again with a longer delay (doubling from `initialDelayMs` up to `maxDelayMs`, with up
 * to 50 % jitter so homes that lost the broker together do not probe in step). Results of publishes sent
 * before the breaker opened no longer count once it is open: only the probe decides.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  threshold: number;
  initialDelayMs: number;
  maxDelayMs: number;
  onBreak?: () => void;
  onHalfOpen?: () => void;
  onReset?: () => void;
}

/** One admitted publish: report its outcome once (later reports are ignored). */
export interface BreakerTicket {
  success(): void;
  failure(): void;
  /** The outcome says nothing about the broker's health (the connection was lost). */
  cancel(): void;
}

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  /** Times opened since the last close: the half-open delay doubles with each. */
  private opened = 0;
  private probeAt = 0;
  /** Bumped on every state change: a ticket of an earlier state no longer counts. */
  private epoch = 0;

  constructor(
    private readonly clock: Clock,
    private readonly o: BreakerOptions,
  ) {}

  get state(): CircuitState {
    return this.current;
  }

  /** Ms until an open breaker lets the probe through (0 when it would now, or when not open). */
  get probeInMs(): number {
    return this.current === 'open' ? Math.max(0, this.probeAt - this.clock.now()) : 0;
  }

  /** A ticket for one publish, or null: the breaker refuses it (open before its delay, or half-open). */
  admit(): BreakerTicket | null {
    if (this.current === 'half-open') return null;
    const probe = this.current === 'open';
    if (probe) {
      if (this.clock.now() < this.probeAt) return null;
      this.enter('half-open');
      this.o.onHalfOpen?.();
    }
    return this.ticket(this.epoch, probe);
  }

  private ticket(epoch: number, probe: boolean): BreakerTicket {
    let done = false;
    const settle = (ok: boolean | null) => {
      if (done) return;
      done = true;
      if (epoch !== this.epoch) return;
      if (probe) {
        if (ok === null) {
          // A lost probe proves nothing: the next publish probes again.
          this.probeAt = this.clock.now();
          this.enter('open');
        } else if (ok) this.close();
        else this.open();
      } else if (ok) this.failures = 0;
      else if (ok === false && ++this.failures >= this.o.threshold) this.open();
    };
    return { success: () => settle(true), failure: () => settle(false), cancel: () => settle(null) };
  }

  private open(): void {
    const base = Math.min(this.o.maxDelayMs, this.o.initialDelayMs * 2 ** this.opened);
    this.opened++;
    this.probeAt = this.clock.now() + Math.round(base * (0.5 + this.clock.random() / 2));
    this.enter('open');
    this.o.onBreak?.();
  }

  private close(): void {
    this.failures = 0;
    this.opened = 0;
    this.enter('closed');
    this.o.onReset?.();
  }

  private enter(state: CircuitState): void {
    this.current = state;
    this.epoch++;
  }
}
