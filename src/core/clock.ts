/**
 * The one source of time and chance for the service's long-lived modules (link, cycle, jobs, lifecycle,
 * trading host). The service passes `systemClock`; the neighbourhood simulation and the tests pass a clock
 * driven by a seeded scheduler, so the code that ships runs unchanged on simulated time.
 */
export interface TimerHandle {
  /** Opaque: only `clearTimer` reads it. */
  readonly __timer: unknown;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms` (≥ 0). */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle | null | undefined): void;
  /** Runs `fn` as soon as the current work is done (after pending I/O on the real clock). */
  soon(fn: () => void): void;
  /** A uniform number in [0, 1). */
  random(): number;
}

interface RealHandle extends TimerHandle {
  readonly __timer: NodeJS.Timeout;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    return { __timer: setTimeout(fn, Math.max(0, ms)) } as RealHandle;
  },
  clearTimer(handle) {
    if (handle) clearTimeout((handle as RealHandle).__timer);
  },
  soon(fn) {
    setImmediate(fn);
  },
  random: () => Math.random(),
};

/** Resolves after `ms` on `clock`; `signal` wakes it early (resolves, never rejects). */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clock.clearTimer(handle);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const handle = clock.setTimer(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
