/**
 * Which broker to use (mqtt.brokers, first = primary). mqtt.js's own `servers` option round-robins on each
 * reconnect; the link instead keeps this policy:
 *
 * - Start on the primary.
 * - Any failed attempt or lost connection moves the next attempt to the next broker in the list (cyclic),
 *   after the reconnect backoff.
 * - Return to primary: once connected to another broker for `returnToPrimaryMs`, the link probes the
 *   primary with a separate short connection. If the primary answers, the link leaves the current broker
 *   cleanly (offline status, in-flight settled) and connects to the primary; if not, it probes again after
 *   another `returnToPrimaryMs`. 0 disables the return (the link stays where it is until that broker fails).
 */
export class BrokerChoice {
  private index = 0;
  private nextProbeAt: number | null = null;

  constructor(
    readonly urls: readonly string[],
    private readonly returnToPrimaryMs: number,
  ) {
    if (urls.length === 0) throw new RangeError('at least one broker URL is needed');
  }

  get current(): string {
    return this.urls[this.index]!;
  }

  get primary(): string {
    return this.urls[0]!;
  }

  get onPrimary(): boolean {
    return this.index === 0;
  }

  /** The attempt on the current broker failed or its connection was lost. */
  failed(): void {
    this.index = (this.index + 1) % this.urls.length;
    this.nextProbeAt = null;
  }

  connected(now: number): void {
    this.nextProbeAt = this.onPrimary || this.returnToPrimaryMs === 0 ? null : now + this.returnToPrimaryMs;
  }

  /** When the primary should be probed next (epoch ms), or null when no probe is due. */
  get probeDueAt(): number | null {
    return this.nextProbeAt;
  }

  probeFailed(now: number): void {
    if (this.nextProbeAt !== null) this.nextProbeAt = now + this.returnToPrimaryMs;
  }

  switchToPrimary(): void {
    this.index = 0;
    this.nextProbeAt = null;
  }
}
