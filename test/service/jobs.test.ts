import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { systemClock } from '../../src/core/clock.js';
import type { Snapshot } from '../../src/core/quantities.js';
import { silentLogger } from '../../src/log/logger.js';
import { Jobs } from '../../src/service/jobs.js';
import { openStore, type Store } from '../../src/store/index.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../systemd/helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Schedules that never come due during a test: only catch-up, missed runs and manual runs happen. */
const NEVER = { backup: '0 0 1 1 *', prune: '0 0 1 1 *', checkpoint: '0 0 1 1 *' };

function snapshot(ts: number, value: number): Snapshot {
  return { cycle: 1, ts, quantities: { pvPowerW: { value, quality: 'good', ts, source: 'inverter' } } };
}

describe('jobs', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function setup(storeOpts: Record<string, unknown> = {}) {
    const tmp = tempDir('pd-jobs-');
    const dbPath = join(tmp.dir, 'powerdeal.db');
    const config = configSchema.parse({
      home: { id: 'home-1', zone: 'zone-1' },
      store: { path: dbPath, readingsRetentionDays: 1, readingsFlushMs: 0, backupKeep: 3, ...storeOpts },
    });
    const store = openStore({ path: dbPath, log: silentLogger(), readingsFlushMs: 0 });
    cleanups.push(() => tmp.cleanup());
    cleanups.push(() => store.close());
    return { tmp, config, store, dbPath };
  }

  function jobsFor(store: Store, config: ReturnType<typeof setup>['config'], extra = {}) {
    const jobs = new Jobs({
      store,
      config,
      log: silentLogger(),
      clock: systemClock,
      catchUpDelayMs: 0,
      schedules: NEVER,
      ...extra,
    });
    cleanups.push(() => jobs.stop());
    return jobs;
  }

  it('catches up overdue jobs at start: backup, prune (aggregates kept), checkpoint', async () => {
    const { store, config } = setup();
    const now = Date.now();
    for (let i = 0; i < 30; i++) store.readings.append(snapshot(now - 3 * DAY + i * 60_000, 1000 + i), now);
    for (let i = 0; i < 5; i++) store.readings.append(snapshot(now - 60_000 + i * 1000, 500), now);
    store.meta.set('jobs.backup.lastRun', String(now - 2 * DAY));
    store.meta.set('jobs.prune.lastRun', String(now - 2 * HOUR));
    store.meta.set('jobs.checkpoint.lastRun', String(now - 2 * HOUR));
    const jobs = jobsFor(store, config);
    jobs.start();
    await waitFor(() => jobs.status().every((j) => j.runs === 1), 20_000, 'three catch-up runs');
    const status = Object.fromEntries(jobs.status().map((j) => [j.name, j]));
    expect(status.backup?.catchUps).toBe(1);
    expect(status.backup?.lastError).toBeNull();
    // Old raw readings went; their hourly aggregates stayed; recent ones are untouched.
    // (The five recent cycles come as themselves, or as their minute's row where the minute is over.)
    const recent = store.readings.since(0, 100);
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.every((r) => r.ts >= Math.floor((now - 60_000) / 60_000) * 60_000)).toBe(true);
    expect(recent.at(-1)?.ts).toBe(now - 60_000 + 4000);
    const old = store.readings.hourly(now - 4 * DAY).filter((h) => h.hour < now - 2 * DAY);
    expect(old.reduce((n, h) => n + h.count, 0)).toBe(30);
    // The backup is a complete, checked copy holding the same data.
    const files = readdirSync(jobs.backupDir());
    expect(files).toHaveLength(1);
    const copy = new Database(join(jobs.backupDir(), files[0] as string), { readonly: true });
    // On disk the five recent cycles are the rows of the minutes they fall in.
    const minutes = new Set([0, 1, 2, 3, 4].map((i) => Math.floor((now - 60_000 + i * 1000) / 60_000)));
    expect((copy.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n).toBe(minutes.size);
    copy.close();
    // Each run is recorded, so a restart does not run them again.
    expect(Number(store.meta.get('jobs.backup.lastRun'))).toBeGreaterThanOrEqual(now);
  });

  it('does not run anything at the first start on a new database', async () => {
    const { store, config } = setup();
    const clock = new ManualClock(Date.now());
    const jobs = jobsFor(store, config, { clock, catchUpDelayMs: 30_000 });
    jobs.start();
    // Past the catch-up and a whole day on: nothing was due, so nothing started (a start is synchronous).
    await clock.advance(30_000);
    expect(clock.timers).toBe(0);
    await clock.advance(25 * HOUR);
    expect(jobs.status().map((j) => [j.runs, j.running, j.catchUps])).toEqual([
      [0, false, 0],
      [0, false, 0],
      [0, false, 0],
    ]);
    expect(store.meta.get('jobs.backup.lastRun')).toBeDefined();
  });

  it('rotates backups, keeping the newest store.backupKeep', async () => {
    const { store, config } = setup();
    const jobs = jobsFor(store, config);
    mkdirSync(jobs.backupDir(), { recursive: true });
    for (let d = 1; d <= 5; d++)
      writeFileSync(join(jobs.backupDir(), `powerdeal-2020010${d}-031700.db`), 'old');
    writeFileSync(join(jobs.backupDir(), 'notes.txt'), 'not a backup');
    await jobs.run('backup');
    const left = readdirSync(jobs.backupDir()).sort();
    expect(left).toHaveLength(4);
    expect(left).toContain('notes.txt');
    expect(left).toContain('powerdeal-20200104-031700.db');
    expect(left).toContain('powerdeal-20200105-031700.db');
    expect(left.filter((f) => f.startsWith('powerdeal-2020')).length).toBe(2);
    expect(existsSync(join(jobs.backupDir(), 'powerdeal-20200101-031700.db'))).toBe(false);
  });

  it('runs a job node-cron reports missed (the event loop was blocked at its time)', async () => {
    const { store, config } = setup();
    store.meta.set('jobs.prune.lastRun', String(Date.now() - 2 * HOUR));
    const jobs = jobsFor(store, config, {
      schedules: { ...NEVER, prune: '* * * * * *' },
      missedToleranceMs: 200,
      catchUpDelayMs: 3_600_000,
    });
    jobs.start();
    // Block the loop across at least two one-second slots.
    const until = Date.now() + 2600;
    while (Date.now() < until) {
      // busy: the process is stuck, as in a long synchronous operation
    }
    await waitFor(
      () => (jobs.status().find((j) => j.name === 'prune')?.missed ?? 0) > 0,
      10_000,
      'a missed run',
    );
    await waitFor(() => (jobs.status().find((j) => j.name === 'prune')?.runs ?? 0) > 0, 10_000, 'the run');
  });

  it('skips the backup when the disk is low, without recording it as done', async () => {
    const { store, config } = setup();
    const lowDisk = { low: true, full: false, alert: 'disk space low: 3.0 MB free' };
    const jobs = jobsFor(store, config, { disk: () => lowDisk });
    const before = store.meta.get('jobs.backup.lastRun');
    await jobs.run('backup');
    const st = jobs.status().find((j) => j.name === 'backup');
    expect(st?.failures).toBe(1);
    expect(st?.lastError).toMatch(/disk space low/);
    expect(store.meta.get('jobs.backup.lastRun')).toBe(before);
  });
});
