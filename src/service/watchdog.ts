import { type Clock, systemClock, type TimerHandle } from '../core/clock.js';
import type { Logger } from '../log/logger.js';
import type { HealthReport } from '../views/health.js';
import type { Notifier } from './notify.js';

export interface WatchdogOptions {
  notifier: Notifier;
  /** Ping period (WATCHDOG_USEC / 2), ms; null: no watchdog asked for, only STATUS= updates. */
  pingEveryMs: number | null;
  health: () => HealthReport;
  log: Logger;
  /** STATUS= is resent at most this often unless liveness changes. Default 10 s. */
  statusEveryMs?: number;
  /** The look timer and the ping time stamps; default the system clock. */
  clock?: Clock;
  /**
   * Time for the ping and status periods. Default `performance.now()`: monotonic, so a wall-clock step
   * (NTP at boot on a Pi without a clock battery) neither holds pings back nor sends them early.
   */
  elapsedMs?: () => number;
}

export interface WatchdogStats {
  pings: number;
  /** Pings that were due but withheld because the service was not live. */
  withheld: number;
  lastPingTs: number | null;
  /** The checks that failed when pings were last withheld. */
  lastFailure: string | null;
}

/**
 * Pets the systemd watchdog only while the health model says the service makes progress: a cycle
 * finished within its budget, the event loop is responsive, the store takes writes. A bare timer would
 * only prove that the event loop spins. Health is looked at often (at most every second), a ping goes
 * out at the ping period while live, and right away when the service recovers, so one slow moment
 * does not add up with the next into a restart.
 */
export class Watchdog {
  private timer: TimerHandle | undefined;
  private readonly clock: Clock;
  private readonly elapsed: () => number;
  private lastPing = Number.NEGATIVE_INFINITY;
  private lastStatus = Number.NEGATIVE_INFINITY;
  private lastSummary = '';
  private wasLive: boolean | null = null;
  private readonly counters: WatchdogStats = { pings: 0, withheld: 0, lastPingTs: null, lastFailure: null };

  constructor(private readonly opts: WatchdogOptions) {
    this.clock = opts.clock ?? systemClock;
    this.elapsed = opts.elapsedMs ?? (() => performance.now());
  }

  /** Look period: a quarter of the ping period, at most a second. */
  get tickMs(): number {
    return Math.max(50, Math.min(1000, (this.opts.pingEveryMs ?? 4000) / 4));
  }

  start(): void {
    if (this.timer) return;
    const look = () => {
      this.timer = this.clock.setTimer(look, this.tickMs);
      this.tick();
    };
    look();
  }

  stop(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  stats(): WatchdogStats {
    return { ...this.counters };
  }

  tick(): void {
    let h: HealthReport;
    try {
      h = this.opts.health();
    } catch (err) {
      // A health model that throws cannot vouch for anything: no ping.
      this.opts.log.error({ err }, 'watchdog: health evaluation failed');
      return;
    }
    const t = this.elapsed();
    const flipped = this.wasLive !== h.live;
    if (flipped) this.logTransition(h);
    this.wasLive = h.live;
    const statusEvery = this.opts.statusEveryMs ?? 10_000;
    if (flipped || (h.summary !== this.lastSummary && t - this.lastStatus >= statusEvery)) {
      this.opts.notifier.status(h.summary);
      this.lastSummary = h.summary;
      this.lastStatus = t;
    }
    const every = this.opts.pingEveryMs;
    if (every === null) return;
    // Half a look period of slack, so timer jitter does not push a ping to the next look.
    if (t - this.lastPing < every - this.tickMs / 2) return;
    if (!h.live) {
      this.counters.withheld++;
      return;
    }
    if (this.opts.notifier.watchdog()) {
      this.lastPing = t;
      this.counters.pings++;
      this.counters.lastPingTs = this.clock.now();
    }
  }

  private logTransition(h: HealthReport): void {
    const failing = h.checks.filter((c) => !c.ok && c.severity === 'live');
    if (!h.live) {
      this.counters.lastFailure = failing.map((c) => `${c.name}: ${c.detail}`).join('; ');
      this.opts.log.error(
        { checks: failing },
        'watchdog: service not making progress; withholding WATCHDOG=1 (systemd restarts it if this lasts)',
      );
    } else if (this.wasLive === false) {
      this.opts.log.warn('watchdog: service making progress again; resuming WATCHDOG=1');
    }
  }
}
