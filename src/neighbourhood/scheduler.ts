/**
 * The simulated clock: a discrete-event scheduler. Events run in time order, and events due at the same
 * time in the order they were scheduled, so a run depends on nothing but its inputs. Nothing here reads
 * the wall clock or uses real timers; an event that leaves promise callbacks behind asks for a turn of
 * the event loop (nothing else is pending there in a run) so they all finish before the next event.
 */
interface Pending {
  at: number;
  order: number;
  run: () => void;
}

export class Scheduler {
  private heap: Pending[] = [];
  private order = 0;
  private current: number;
  private yieldRequested = false;
  /** Events run so far. */
  executed = 0;

  constructor(start: number) {
    this.current = start;
  }

  /** The simulated time, epoch ms. */
  get now(): number {
    return this.current;
  }

  /** Runs `fn` at simulated time `at` (not before now). */
  at(at: number, fn: () => void): void {
    this.push({ at: Math.max(at, this.current), order: this.order++, run: fn });
  }

  /** Runs `fn` `ms` after now. */
  after(ms: number, fn: () => void): void {
    this.at(this.current + ms, fn);
  }

  /**
   * The current event left work queued as microtasks (a step inside another transaction finishes its
   * after-commit work in one; the link's promise chains): let all of it run before the next event.
   */
  yieldAfterEvent(): void {
    this.yieldRequested = true;
  }

  /** Runs every event due up to and including `until`, then sets the clock to `until`. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      const next = this.heap[0];
      if (next === undefined || next.at > until) break;
      this.pop();
      this.current = next.at;
      this.executed++;
      next.run();
      if (this.yieldRequested) {
        this.yieldRequested = false;
        // One turn of the event loop: the microtask queue is drained completely, however long its chains.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    this.current = Math.max(this.current, until);
  }

  /** Events waiting. */
  get pending(): number {
    return this.heap.length;
  }

  private push(p: Pending): void {
    const h = this.heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function before(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
