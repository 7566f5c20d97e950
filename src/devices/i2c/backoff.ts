import type { BreakerState } from '../device.js';

export interface BackoffOptions {
  /** Consecutive failures before the device is left alone for a while (default 3). */
  failureThreshold?: number;
  /** First pause, in ms (default 1000); doubles on each failed retry. */
  baseMs?: number;
  /** Longest pause, in ms (default 60000). */
  maxMs?: number;
}

/**
 * Per-device backoff driven by the cycle's reads: after a few consecutive failures the device is not
 * touched until a pause has passed (breaker open); the next read is a trial (half-open); a success
 * closes it. An unplugged sensor then costs the bus one attempt per pause instead of one per cycle.
 */
export class FailureBackoff {
  consecutiveFailures = 0;
  private openUntil = 0;
  private readonly threshold: number;
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(opts: BackoffOptions = {}) {
    this.threshold = opts.failureThreshold ?? 3;
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 60_000;
  }

  state(now: number): BreakerState {
    if (this.consecutiveFailures < this.threshold) return 'closed';
    return now < this.openUntil ? 'open' : 'half-open';
  }

  /** Milliseconds until the next attempt is allowed (0 = now). */
  waitMs(now: number): number {
    return this.state(now) === 'open' ? this.openUntil - now : 0;
  }

  success(): void {
    this.consecutiveFailures = 0;
    this.openUntil = 0;
  }

  failure(now: number): void {
    this.consecutiveFailures++;
    if (this.consecutiveFailures >= this.threshold) {
      const doublings = Math.min(30, this.consecutiveFailures - this.threshold);
      this.openUntil = now + Math.min(this.maxMs, this.baseMs * 2 ** doublings);
    }
  }
}
