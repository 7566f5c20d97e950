import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/schema.js';
import { type Clock, sleepOn, type TimerHandle } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { backupDatabase } from '../store/backup.js';
import type { Store } from '../store/index.js';
import type { Extension } from '../views/extension.js';
import type { DiskState } from '../views/status.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const BACKUP_NAME = /^powerdeal-\d{8}-\d{6}\.db$/;

export type JobName = 'backup' | 'prune' | 'checkpoint';

interface JobSpec {
  name: JobName;
  /** node-cron expression, local time. */
  cron: string;
  /** How often it is meant to run: a last run older than this is caught up at start. */
  periodMs: number;
  run: () => Promise<string>;
}

export interface JobStatus {
  name: JobName;
  cron: string;
  running: boolean;
  lastRunTs: number | null;
  lastResult: string | null;
  lastError: string | null;
  lastErrorTs: number | null;
  runs: number;
  failures: number;
  /** Runs node-cron reported missed (a blocked loop, a suspended Pi, a clock step), and caught up. */
  missed: number;
  catchUps: number;
  nextRunTs: number | null;
}

export interface JobsOptions {
  store: Store;
  config: Config;
  log: Logger;
  /** Time for the catch-up delay, the stop deadline and the run stamps (node-cron keeps its own schedule). */
  clock: Clock;
  disk?: () => DiskState | null;
  /** Delay before overdue jobs are caught up after start (let the service settle first). Default 30 s. */
  catchUpDelayMs?: number;
  /** Overrides of the schedules (tests). */
  schedules?: Partial<Record<JobName, string>>;
  /** Cron timezone; default the system's. */
  timezone?: string;
  /** How late a run may start before node-cron reports it missed. Default 60 s. */
  missedToleranceMs?: number;
}

/**
 * The housekeeping jobs: a nightly online backup with rotation, hourly pruning of raw readings past
 * `store.readingsRetentionDays` (hourly aggregates stay), and a WAL checkpoint that truncates the WAL
 * file. Each job's last successful run is kept in the store, so a run missed while the Pi was off is
 * caught up after start, and one that node-cron reports missed (`execution:missed`: the loop was
 * blocked at the time) is run at once rather than silently skipped.
 */
export class Jobs {
  private readonly specs: JobSpec[];
  private readonly tasks = new Map<JobName, ScheduledTask>();
  private readonly state = new Map<JobName, Omit<JobStatus, 'name' | 'cron' | 'nextRunTs' | 'lastRunTs'>>();
  private readonly running = new Map<JobName, Promise<void>>();
  private catchUpTimer: TimerHandle | undefined;
  private stopped = true;

  constructor(private readonly opts: JobsOptions) {
    const s = opts.schedules ?? {};
    this.specs = [
      { name: 'backup', cron: s.backup ?? '17 3 * * *', periodMs: DAY_MS, run: () => this.backup() },
      { name: 'prune', cron: s.prune ?? '7 * * * *', periodMs: HOUR_MS, run: () => this.prune() },
      {
        name: 'checkpoint',
        cron: s.checkpoint ?? '37 * * * *',
        periodMs: HOUR_MS,
        run: () => this.checkpoint(),
      },
    ];
    for (const spec of this.specs) {
      this.state.set(spec.name, {
        running: false,
        lastResult: null,
        lastError: null,
        lastErrorTs: null,
        runs: 0,
        failures: 0,
        missed: 0,
        catchUps: 0,
      });
    }
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const now = this.opts.clock.now();
    for (const spec of this.specs) {
      // First start on this database: the schedule counts from now, nothing is overdue yet.
      if (this.lastRun(spec.name) === null) this.opts.store.meta.set(metaKey(spec.name), String(now));
      const task = cron.schedule(spec.cron, () => this.run(spec.name, 'scheduled'), {
        name: `powerdeal-${spec.name}`,
        noOverlap: true,
        timezone: this.opts.timezone,
        // An hourly or daily job may start a minute late; later than that it counts as missed.
        missedExecutionTolerance: this.opts.missedToleranceMs ?? 60_000,
      });
      task.on('execution:missed', () => {
        const st = this.state.get(spec.name);
        if (st) st.missed++;
        this.opts.log.warn({ job: spec.name }, 'job: a scheduled run was missed; running it now');
        void this.run(spec.name, 'missed');
      });
      this.tasks.set(spec.name, task);
    }
    this.catchUpTimer = this.opts.clock.setTimer(
      () => void this.catchUp(),
      this.opts.catchUpDelayMs ?? 30_000,
    );
  }

  /** Runs every job whose last run is older than its period (the Pi was off, or the service down). */
  catchUp(): Promise<void> {
    const now = this.opts.clock.now();
    const due = this.specs.filter((spec) => {
      const last = this.lastRun(spec.name);
      return last !== null && now - last >= spec.periodMs;
    });
    return Promise.all(due.map((spec) => this.run(spec.name, 'catch-up'))).then(() => undefined);
  }

  /** Runs a job now (one at a time per job). Resolves when it finished; never throws. */
  run(name: JobName, reason: 'scheduled' | 'missed' | 'catch-up' | 'manual' = 'manual'): Promise<void> {
    const already = this.running.get(name);
    if (already) return already;
    const spec = this.specs.find((s) => s.name === name);
    const st = this.state.get(name);
    if (!spec || !st || (this.stopped && reason !== 'manual')) return Promise.resolve();
    // A missed slot reported after the job already ran for it (a clock step reports many) is not rerun.
    const last = this.lastRun(name);
    if (reason === 'missed' && last !== null && this.opts.clock.now() - last < spec.periodMs / 2) {
      return Promise.resolve();
    }
    if (reason === 'catch-up') st.catchUps++;
    st.running = true;
    const p = spec
      .run()
      .then(
        (result) => {
          st.runs++;
          st.lastResult = result;
          if (!this.opts.store.closed) this.opts.store.meta.set(metaKey(name), String(this.opts.clock.now()));
          this.opts.log.info({ job: name, reason, result }, 'job done');
        },
        (err) => {
          st.failures++;
          st.lastError = errorText(err);
          st.lastErrorTs = this.opts.clock.now();
          this.opts.log.error({ job: name, reason, err }, 'job failed');
        },
      )
      .finally(() => {
        st.running = false;
        this.running.delete(name);
      });
    this.running.set(name, p);
    return p;
  }

  /** Stops the schedules and waits for a job in progress (a backup) up to the deadline. */
  async stop(deadlineMs = 5000): Promise<void> {
    this.stopped = true;
    this.opts.clock.clearTimer(this.catchUpTimer);
    for (const task of this.tasks.values()) await task.destroy();
    this.tasks.clear();
    const pending = [...this.running.values()];
    if (pending.length === 0) return;
    const deadline = new AbortController();
    await Promise.race([Promise.all(pending), sleepOn(this.opts.clock, deadlineMs, deadline.signal)]);
    deadline.abort();
  }

  status(): JobStatus[] {
    return this.specs.map((spec) => {
      const st = this.state.get(spec.name);
      const next = this.tasks.get(spec.name)?.getNextRun() ?? null;
      return {
        name: spec.name,
        cron: spec.cron,
        ...(st as NonNullable<typeof st>),
        lastRunTs: this.lastRun(spec.name),
        nextRunTs: next ? next.getTime() : null,
      };
    });
  }

  backupDir(): string {
    return this.opts.config.store.backupDir ?? join(dirname(this.opts.config.store.path), 'backups');
  }

  private lastRun(name: JobName): number | null {
    if (this.opts.store.closed) return null;
    const v = this.opts.store.meta.get(metaKey(name));
    return v === undefined ? null : Number(v);
  }

  private async backup(): Promise<string> {
    const keep = this.opts.config.store.backupKeep;
    if (keep === 0) return 'backups disabled (store.backupKeep: 0)';
    const disk = this.opts.disk?.();
    if (disk && (disk.low || disk.full)) {
      // Not recorded as done: the next night (or a catch-up after a restart) tries again.
      throw new Error(`skipped: ${disk.alert ?? 'disk space low'}`);
    }
    const dir = this.backupDir();
    mkdirSync(dir, { recursive: true });
    const stamp = new Date(this.opts.clock.now())
      .toISOString()
      .replace(/[-:]/g, '')
      .replace('T', '-')
      .slice(0, 15);
    const dest = join(dir, `powerdeal-${stamp}.db`);
    const { bytes, durationMs } = await backupDatabase(this.opts.store.db, dest);
    const removed = rotate(dir, keep);
    return `${dest} (${bytes} bytes, ${Math.round(durationMs)} ms), ${removed} old backup(s) removed`;
  }

  private async prune(): Promise<string> {
    const days = this.opts.config.store.readingsRetentionDays;
    const n = this.opts.store.readings.prune(this.opts.clock.now() - days * DAY_MS);
    return `${n} raw readings older than ${days} days removed (hourly aggregates kept)`;
  }

  private async checkpoint(): Promise<string> {
    const [r] = this.opts.store.db.pragma('wal_checkpoint(TRUNCATE)') as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    if (r?.busy) throw new Error('WAL checkpoint could not complete (a reader held it)');
    return `WAL checkpointed (${r?.checkpointed ?? 0} pages), file truncated`;
  }
}

function metaKey(name: JobName): string {
  return `jobs.${name}.lastRun`;
}

/** Keeps the newest `keep` backups (names sort by time). Returns how many were removed. */
function rotate(dir: string, keep: number): number {
  const files = readdirSync(dir)
    .filter((f) => BACKUP_NAME.test(f))
    .sort();
  const old = files.slice(0, Math.max(0, files.length - keep));
  for (const f of old) rmSync(join(dir, f), { force: true });
  return old.length;
}

/** The jobs as an extension of the service. */
export const jobsExtension: Extension = {
  name: 'jobs',
  start: async (ctx) => {
    const jobs = new Jobs({
      store: ctx.store,
      config: ctx.config,
      log: ctx.log,
      clock: ctx.clock,
      disk: ctx.disk,
    });
    jobs.start();
    return { stop: (deadlineMs) => jobs.stop(deadlineMs) };
  },
};
