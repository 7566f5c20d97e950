/** The last N samples of a measurement, for percentiles without unbounded memory. */
export class RingStats {
  private readonly values: number[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  push(value: number): void {
    if (this.values.length < this.size) this.values.push(value);
    else this.values[this.next] = value;
    this.next = (this.next + 1) % this.size;
  }

  quantile(q: number): number | null {
    if (this.values.length === 0) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
  }

  get count(): number {
    return this.values.length;
  }
}
