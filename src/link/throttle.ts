/**
 * The backlog throttle after a connect: after a random start pause, a token bucket of `ratePerS` with a
 * burst of a twentieth of a second's worth, until a batch finds fewer rows than it could send (the backlog
 * is drained) and the throttle turns off.
 */
export class BacklogThrottle {
  active = false;
  private tokens = 0;
  private refilledAt = 0;
  private startsAt = 0;
  private readonly rate: number;
  private readonly burst: number;

  constructor(ratePerS: number) {
    this.rate = Math.max(1, ratePerS);
    this.burst = Math.max(1, Math.ceil(this.rate / 20));
  }

  /** A connect: nothing goes before `startsAt`, then at most the rate. */
  restart(startsAt: number): void {
    this.active = true;
    this.tokens = 0;
    this.startsAt = startsAt;
    this.refilledAt = startsAt;
  }

  /** How many of `want` rows may go at `now`: a count ≥ 1, or the ms to wait before asking again. */
  take(want: number, now: number): { rows: number } | { waitMs: number } {
    if (!this.active) return { rows: want };
    if (now < this.startsAt) return { waitMs: this.startsAt - now };
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return { waitMs: ((Math.min(want, this.burst) - this.tokens) * 1000) / this.rate };
    return { rows: Math.min(want, Math.floor(this.tokens)) };
  }

  /** `sent` of the `allowed` rows went; fewer than allowed means the backlog is drained. True: now off. */
  spent(sent: number, allowed: number): boolean {
    if (!this.active) return false;
    this.tokens -= sent;
    if (sent < allowed) this.active = false;
    return !this.active;
  }
}
