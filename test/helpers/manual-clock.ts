import type { Clock, TimerHandle } from '../../src/core/clock.js';

interface Pending {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock for tests: time moves only when the test says so. Timers due at the same time run in the order
 * they were set; between two timers every pending promise callback runs, so async code driven by the
 * timers (a connect loop, a drain) behaves as it would on the real clock, only exactly.
 */
export class ManualClock implements Clock {
  private pending: Pending[] = [];
  private order = 0;
  private seed: number;
  private current: number;

  constructor(start = Date.UTC(2026, 5, 1, 12), seed = 1) {
    this.current = start;
    this.seed = seed >>> 0 || 1;
  }

  now = (): number => this.current;

  setTimer(fn: () => void, ms: number): TimerHandle {
    const p: Pending = { at: this.current + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.pending.push(p);
    return { __timer: p };
  }

  clearTimer(handle: TimerHandle | null | undefined): void {
    if (handle) (handle.__timer as Pending).cancelled = true;
  }

  soon(fn: () => void): void {
    this.setTimer(fn, 0);
  }

  /** xorshift32: the same seed gives the same sequence. */
  random(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed / 0x1_0000_0000;
  }

  /** Timers not yet run nor cleared. */
  get timers(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /** Runs every timer due within `ms`, in time order, then sets the clock to now + ms. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    await settle();
    for (;;) {
      const next = this.takeNext(until);
      if (!next) break;
      this.current = Math.max(this.current, next.at);
      next.fn();
      await settle();
    }
    this.current = until;
  }

  /** Advances in steps of `stepMs` until `cond()` holds or `maxMs` has passed; returns whether it held. */
  async advanceUntil(cond: () => boolean, maxMs: number, stepMs = 10): Promise<boolean> {
    for (let t = 0; t <= maxMs; t += stepMs) {
      if (cond()) return true;
      await this.advance(stepMs);
    }
    return cond();
  }

  private takeNext(until: number): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) {
      if (p.cancelled || p.at > until) continue;
      if (!best || p.at < best.at || (p.at === best.at && p.order < best.order)) best = p;
    }
    if (best) this.pending = this.pending.filter((p) => p !== best && !p.cancelled);
    return best;
  }
}

/** Lets every queued promise callback (and pending I/O callbacks) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
