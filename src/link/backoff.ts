/**
 * Reconnect delays: exponential growth with decorrelated jitter ("sleep = min(cap, random(base, last × 3))"),
 * so homes that lost the broker together do not come back in lockstep. `reset()` after a good connection.
 */
export class ReconnectBackoff {
  private last: number;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number,
  ) {
    this.last = baseMs;
  }

  next(): number {
    const hi = Math.max(this.baseMs, this.last * 3);
    this.last = Math.min(this.capMs, this.baseMs + this.random() * (hi - this.baseMs));
    return Math.round(this.last);
  }

  reset(): void {
    this.last = this.baseMs;
  }
}
