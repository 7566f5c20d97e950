import type { Edge } from './backend.js';

/**
 * Turns raw edges into debounced logical changes: every raw edge restarts a timer; when the line has
 * been quiet for `debounceMs`, its level is read once and reported if it differs from the last
 * reported state and the transition matches `edge`. Shared by every backend so the button behaves the
 * same on hardware and in simulation.
 */
export class EdgeDebouncer {
  private timer: NodeJS.Timeout | undefined;
  private stable: boolean;
  private readonly listeners: Array<(on: boolean) => void> = [];

  constructor(
    /** Current logical state of the line. */
    private readonly readLogical: () => boolean,
    private readonly debounceMs: number,
    private readonly edge: Edge,
  ) {
    this.stable = readLogical();
  }

  watch(cb: (on: boolean) => void): void {
    this.listeners.push(cb);
  }

  /** Call on every raw edge of the line. */
  rawEdge(): void {
    if (this.debounceMs <= 0) {
      this.settle();
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.settle(), this.debounceMs);
    this.timer.unref();
  }

  close(): void {
    clearTimeout(this.timer);
    this.listeners.length = 0;
  }

  private settle(): void {
    this.timer = undefined;
    const on = this.readLogical();
    if (on === this.stable) return;
    this.stable = on;
    const wanted =
      this.edge === 'both' || (this.edge === 'rising' ? on : this.edge === 'falling' ? !on : false);
    if (!wanted) return;
    for (const cb of [...this.listeners]) cb(on);
  }
}
