/**
 * Event-loop lag over a sliding window: how late a short repeating timer fired, worst case over the
 * last `windowMs`. A loop blocked for 5 s shows 5 s here for the next window, so a long block is seen
 * by the watchdog even when it looks after the loop has recovered. (Node's event-loop delay histogram
 * was not used: it can miss a single long block between two of its samples.) Real timers on purpose,
 * not the service's clock: what it measures is the event loop itself.
 */
export class EventLoopLag {
  private timer: NodeJS.Timeout | undefined;
  private readonly samples: { ts: number; lagMs: number }[] = [];
  private expected = 0;

  constructor(private readonly opts: { windowMs?: number; resolutionMs?: number; now?: () => number } = {}) {}

  start(): void {
    if (this.timer) return;
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Worst lag in the window, ms; null before the first measurement. */
  maxMs(): number | null {
    this.drop();
    if (this.samples.length === 0) return null;
    let max = 0;
    for (const s of this.samples) if (s.lagMs > max) max = s.lagMs;
    return Math.round(max);
  }

  private arm(): void {
    const resolution = this.opts.resolutionMs ?? 250;
    this.expected = performance.now() + resolution;
    this.timer = setTimeout(() => {
      const lag = Math.max(0, performance.now() - this.expected);
      // Keep one sample per second of wall time at most: the worst of that second.
      const ts = this.now();
      const last = this.samples.at(-1);
      if (last && Math.floor(last.ts / 1000) === Math.floor(ts / 1000))
        last.lagMs = Math.max(last.lagMs, lag);
      else this.samples.push({ ts, lagMs: lag });
      this.drop();
      this.arm();
    }, resolution);
    this.timer.unref();
  }

  private drop(): void {
    const cutoff = this.now() - (this.opts.windowMs ?? 10_000);
    while (this.samples.length > 0 && (this.samples[0]?.ts ?? 0) < cutoff) this.samples.shift();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
