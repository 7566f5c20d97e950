import { type Clock, sleepOn, systemClock, type TimerHandle } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { QuantityName, Snapshot } from '../core/quantities.js';
import type { Device } from '../devices/device.js';
import type { Logger } from '../log/logger.js';
import type { CycleStats } from '../views/status.js';
import { RingStats } from './ring-stats.js';
import { QuantityMemory } from './snapshot.js';

/** Something that consumes each frozen snapshot (the readings store, telemetry, later the engine). */
export interface SnapshotSink {
  name: string;
  accept(snapshot: Snapshot): void | Promise<void>;
}

export interface CycleContext {
  devices: readonly Device[];
  cycleMs: number;
  log: Logger;
  /** Time and the tick timers; default the system clock. */
  clock?: Clock;
  /** Max age of a device's values before they turn stale. Default: 3 cycles. */
  maxAgeMs?: (deviceId: string) => number;
  /** How long a cycle waits for reads before freezing the snapshot without the laggards. Default 80 %. */
  readBudgetMs?: number;
  sinks: readonly SnapshotSink[];
}

/**
 * The cycle: every `cycleMs` read all devices at once (each bus worker serializes its own
 * units), freeze a snapshot, hand it to the sinks. Cycles never overlap: one that overruns is flagged
 * and the missed ticks are skipped, not stacked. A device whose read is still running is not asked
 * again, so one silent unit cannot pile requests onto its bus.
 */
export class CycleRunner {
  private readonly clock: Clock;
  private readonly memory = new QuantityMemory();
  private readonly owners = new Map<QuantityName, string>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly durations = new RingStats(600);
  private timer: TimerHandle | undefined;
  private current: Promise<Snapshot> | undefined;
  private latestSnapshot: Snapshot | undefined;
  private stopped = true;
  private counters = {
    cycles: 0,
    overruns: 0,
    skippedTicks: 0,
    busySkips: 0,
    sinkErrors: 0,
    lastSinkError: null as string | null,
    lastStartTs: null as number | null,
    lastProgressTs: null as number | null,
    lastDurationMs: null as number | null,
  };

  constructor(private readonly ctx: CycleContext) {
    this.clock = ctx.clock ?? systemClock;
    for (const device of ctx.devices) {
      for (const q of device.quantities) if (!this.owners.has(q)) this.owners.set(q, device.id);
    }
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.clock.now());
  }

  /** Stops scheduling and waits for the cycle in progress, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    // A failed cycle was logged where it ran (schedule); stopping only waits for it to end.
    await this.current?.catch(() => undefined);
  }

  latest(): Snapshot | undefined {
    return this.latestSnapshot;
  }

  stats(): CycleStats {
    return {
      ...this.counters,
      durationP50Ms: this.durations.quantile(0.5),
      durationP99Ms: this.durations.quantile(0.99),
      running: !this.stopped,
    };
  }

  /** One whole cycle: reads, freeze, sinks. Exposed for tests and technician probes. */
  async runOnce(): Promise<Snapshot> {
    const start = this.clock.now();
    this.counters.lastStartTs = start;
    const cycle = ++this.counters.cycles;
    await this.readAll(start);
    const faulted = new Set(this.ctx.devices.filter((d) => d.health().state === 'fault').map((d) => d.id));
    const maxAge = this.ctx.maxAgeMs ?? (() => 3 * this.ctx.cycleMs);
    const snapshot = this.memory.freeze(cycle, this.clock.now(), this.owners, maxAge, faulted);
    this.latestSnapshot = snapshot;
    let sinksOk = true;
    for (const sink of this.ctx.sinks) {
      try {
        await sink.accept(snapshot);
      } catch (err) {
        sinksOk = false;
        this.counters.sinkErrors++;
        this.counters.lastSinkError = `${sink.name}: ${errorText(err)}`;
        this.ctx.log.error({ err, sink: sink.name, cycle }, 'cycle sink failed');
      }
    }
    const end = this.clock.now();
    this.counters.lastDurationMs = end - start;
    this.durations.push(end - start);
    if (sinksOk) this.counters.lastProgressTs = end;
    return snapshot;
  }

  private async readAll(start: number): Promise<void> {
    const issued: Promise<void>[] = [];
    for (const device of this.ctx.devices) {
      const running = this.pending.get(device.id);
      if (running) {
        this.counters.busySkips++;
        issued.push(running);
        continue;
      }
      const read = device
        .read()
        .then(
          (values) => this.memory.record(device.id, values, this.clock.now(), this.owners),
          () => undefined, // the device keeps its own health and last error
        )
        .finally(() => this.pending.delete(device.id));
      this.pending.set(device.id, read);
      issued.push(read);
    }
    const budget = this.ctx.readBudgetMs ?? Math.floor(this.ctx.cycleMs * 0.8);
    const left = Math.max(0, start + budget - this.clock.now());
    const done = new AbortController();
    await Promise.race([Promise.all(issued), sleepOn(this.clock, left, done.signal)]);
    done.abort();
  }

  private schedule(tickStart: number): void {
    if (this.stopped) return;
    const delay = Math.max(0, tickStart - this.clock.now());
    this.timer = this.clock.setTimer(() => {
      this.current = this.runOnce();
      this.current
        .catch((err) => this.ctx.log.error({ err }, 'cycle failed'))
        .finally(() => {
          this.current = undefined;
          const now = this.clock.now();
          let next = tickStart + this.ctx.cycleMs;
          if (now > next) {
            // Overrun: flag it and realign to the tick grid instead of firing the missed ticks.
            const missed = Math.floor((now - tickStart) / this.ctx.cycleMs);
            this.counters.overruns++;
            this.counters.skippedTicks += missed;
            next = tickStart + (missed + 1) * this.ctx.cycleMs;
            this.ctx.log.warn(
              { durationMs: this.counters.lastDurationMs, missed },
              'cycle overran its budget',
            );
          }
          this.schedule(next);
        });
    }, delay);
  }
}
