import { existsSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { SnapshotSink } from '../cycle/runner.js';
import type { Logger } from '../log/logger.js';
import { isDiskFull, type Store } from '../store/index.js';
import type { DiskState } from '../views/status.js';

const MB = 1024 * 1024;
const DAY_MS = 86_400_000;
/** When space is short, raw readings older than this go (their hourly aggregates stay). */
const LOW_DISK_READINGS_KEEP_MS = DAY_MS;
/** Relief runs at most this often; a full disk makes every cycle fail, relief must not run each time. */
const RELIEF_MIN_INTERVAL_MS = 5_000;

export interface DiskGuardOptions {
  /** The database file; its filesystem is the one watched, the reserve file sits beside it. */
  dbPath: string;
  store: () => Store | undefined;
  log: Logger;
  clock: Clock;
  /** Below this much free space the guard acts (sheds telemetry, prunes readings) and raises an alert. */
  lowBytes: number;
  /** Space held back in a reserve file, released when the disk fills so promises can still be written. */
  reserveBytes: number;
  /** How often free space is measured. Default 30 s. */
  intervalMs?: number;
}

/**
 * Keeps the service running when the SD card fills. It measures free space beside the database; below
 * the low-water mark, or when a write fails with SQLITE_FULL/ENOSPC, it sheds what can be lost (queued
 * telemetry, raw readings older than a day, the WAL file) and raises an alert. Never-shed outbox rows
 * are not touched. A reserve file holds back some space while all is well and is deleted when the disk
 * fills, so the store has room to record promises and to run its own deletes.
 */
export class DiskGuard {
  private timer: TimerHandle | undefined;
  private lastRelief = Number.NEGATIVE_INFINITY;
  private alerted: string | null = null;
  private readonly reservePath: string;
  private readonly s: DiskState;

  constructor(private readonly opts: DiskGuardOptions) {
    const dir = dirname(opts.dbPath);
    this.reservePath = join(dir, '.powerdeal-reserve');
    this.s = {
      path: dir,
      freeBytes: null,
      totalBytes: null,
      low: false,
      full: false,
      alert: null,
      reserveHeld: false,
      reliefs: 0,
      telemetryShed: 0,
      readingsPruned: 0,
      failedWrites: 0,
      lastCheckTs: null,
    };
  }

  start(): void {
    this.check();
    const every = this.opts.intervalMs ?? 30_000;
    const tick = () => {
      this.timer = this.opts.clock.setTimer(tick, every);
      this.check();
    };
    this.timer = this.opts.clock.setTimer(tick, every);
  }

  stop(): void {
    this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  state(): DiskState {
    return { ...this.s };
  }

  /** Measures, updates the alert, and acts when space is short. */
  check(): DiskState {
    this.measure();
    const writes = this.opts.store()?.writeHealth();
    this.s.full = writes?.diskFull === true;
    this.s.low = this.s.freeBytes !== null && this.s.freeBytes < this.opts.lowBytes;
    if (this.s.full || this.s.low) this.relieve();
    else this.holdReserve();
    this.updateAlert();
    return this.state();
  }

  /** A write failed because the disk is full: give the store room and shed what can be lost. */
  noteDiskFull(err: unknown, what: string): void {
    this.s.failedWrites++;
    this.s.full = true;
    if (this.alerted === null) {
      this.opts.log.error(
        { err: errorText(err), what },
        'disk full: a write failed; shedding to keep running',
      );
    }
    this.measure();
    this.relieve();
    this.updateAlert();
  }

  private measure(): void {
    try {
      const fs = statfsSync(this.s.path);
      this.s.freeBytes = fs.bavail * fs.bsize;
      this.s.totalBytes = fs.blocks * fs.bsize;
    } catch {
      this.s.freeBytes = null;
      this.s.totalBytes = null;
    }
    this.s.reserveHeld = existsSync(this.reservePath);
    this.s.lastCheckTs = this.opts.clock.now();
  }

  private relieve(): void {
    const now = this.opts.clock.now();
    if (now - this.lastRelief < RELIEF_MIN_INTERVAL_MS) return;
    this.lastRelief = now;
    this.s.reliefs++;
    // The reserve goes first: the deletes below need room in the WAL.
    this.releaseReserve();
    const store = this.opts.store();
    if (!store || store.closed) return;
    const step = (name: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        this.opts.log.warn({ err: errorText(err), step: name }, 'disk guard: relief step failed');
      }
    };
    step('checkpoint', () => store.db.pragma('wal_checkpoint(TRUNCATE)'));
    step('telemetry', () => {
      this.s.telemetryShed += store.outbox.purge({ class: 'telemetry' }, now);
    });
    step('readings', () => {
      this.s.readingsPruned += store.readings.prune(now - LOW_DISK_READINGS_KEEP_MS);
    });
    step('checkpoint', () => store.db.pragma('wal_checkpoint(TRUNCATE)'));
    this.measure();
  }

  private releaseReserve(): void {
    if (!existsSync(this.reservePath)) return;
    rmSync(this.reservePath, { force: true });
    this.s.reserveHeld = false;
    this.opts.log.warn({ path: this.reservePath }, 'disk guard: released the reserve space');
  }

  /** Recreates the reserve once there is clearly room for it again. */
  private holdReserve(): void {
    if (this.opts.reserveBytes <= 0 || this.s.reserveHeld || this.s.freeBytes === null) return;
    if (this.s.freeBytes < this.opts.lowBytes + 2 * this.opts.reserveBytes) return;
    try {
      writeFileSync(this.reservePath, Buffer.alloc(this.opts.reserveBytes), { flag: 'wx' });
      this.s.reserveHeld = true;
    } catch (err) {
      rmSync(this.reservePath, { force: true });
      this.opts.log.warn({ err: errorText(err) }, 'disk guard: could not create the reserve file');
    }
  }

  private updateAlert(): void {
    const free = this.s.freeBytes === null ? 'unknown' : `${(this.s.freeBytes / MB).toFixed(1)} MB`;
    const alert = this.s.full
      ? `disk full: writes failing (free ${free}); shedding telemetry and old readings`
      : this.s.low
        ? `disk space low: ${free} free (below ${(this.opts.lowBytes / MB).toFixed(0)} MB)`
        : null;
    if (alert !== null && this.alerted === null) this.opts.log.error({ disk: this.state() }, alert);
    if (alert === null && this.alerted !== null) this.opts.log.info({ free }, 'disk space back to normal');
    this.alerted = alert;
    this.s.alert = alert;
  }
}

/**
 * A cycle sink whose writes may be lost when the disk is full (readings, telemetry): the failure is
 * handed to the guard instead of failing the cycle, so the cycle keeps counting as progress.
 */
export function diskTolerant(sink: SnapshotSink, guard: () => DiskGuard | undefined): SnapshotSink {
  return {
    name: sink.name,
    accept: async (snapshot) => {
      try {
        await sink.accept(snapshot);
      } catch (err) {
        const g = guard();
        if (!g || !isDiskFull(err)) throw err;
        g.noteDiskFull(err, sink.name);
      }
    },
  };
}
