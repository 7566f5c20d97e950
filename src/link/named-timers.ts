import type { Clock, TimerHandle } from '../core/clock.js';

/** One-shot timers by name on a clock: arming a name again replaces its timer. */
export class NamedTimers {
  private readonly timers = new Map<string, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  has(name: string): boolean {
    return this.timers.has(name);
  }

  arm(name: string, ms: number, fn: () => void): void {
    this.clear(name);
    this.timers.set(
      name,
      this.clock.setTimer(() => {
        this.timers.delete(name);
        fn();
      }, ms),
    );
  }

  clear(...names: string[]): void {
    for (const name of names) {
      this.clock.clearTimer(this.timers.get(name));
      this.timers.delete(name);
    }
  }

  clearAll(): void {
    this.clear(...this.timers.keys());
  }
}
