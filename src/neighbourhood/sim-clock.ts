import type { Clock, TimerHandle } from '../core/clock.js';
import type { Random } from './random.js';
import type { Scheduler } from './scheduler.js';

interface SimTimer {
  cancelled: boolean;
}

/**
 * One simulated process's clock over the scheduler: `now` is simulated time, timers are scheduler events
 * (whole milliseconds, so simulated time stays integral), `soon` is an event at the current time and
 * `random` a seeded stream. After each of its timers the scheduler lets the promise callbacks that timer
 * started run before the next event, so async code (the link) runs as on the real clock. When the process
 * dies (`kill`), none of its timers runs any more: a dead process does nothing.
 */
export class SimClock implements Clock {
  private dead = false;

  constructor(
    private readonly sched: Scheduler,
    private readonly rnd: Random,
    /** Runs each timer's work (the simulation holds armed power cuts back from the link's own commits). */
    private readonly around: (fn: () => void) => void = (fn) => fn(),
  ) {}

  now = (): number => this.sched.now;

  setTimer(fn: () => void, ms: number): TimerHandle {
    const t: SimTimer = { cancelled: false };
    this.sched.after(Math.max(0, Math.ceil(ms)), () => {
      if (t.cancelled || this.dead) return;
      this.sched.yieldAfterEvent();
      this.around(fn);
    });
    return { __timer: t };
  }

  clearTimer(handle: TimerHandle | null | undefined): void {
    if (handle) (handle.__timer as SimTimer).cancelled = true;
  }

  soon(fn: () => void): void {
    this.setTimer(fn, 0);
  }

  random(): number {
    return this.rnd.float();
  }

  /** The process died. */
  kill(): void {
    this.dead = true;
  }

  get alive(): boolean {
    return !this.dead;
  }
}
