import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { startupTimeNeededMs } from '../../src/service/startup-time.js';
import { openStore } from '../../src/store/index.js';
import { type RunProcess, spawnRun, startNotifyListener, tempDir, writeConfig } from '../systemd/helpers.js';

/** A database file that is garbage at start: moved aside with a loud log, a fresh one used, READY=1 sent. */
describe('crash-safe start', () => {
  const tmp = tempDir('pd-corrupt-');
  let run: RunProcess | undefined;

  afterAll(async () => {
    run?.kill('SIGKILL');
    await run?.exited;
    tmp.cleanup();
  });

  it('is quarantined, and the service starts on a fresh one with an alert', async () => {
    const dbPath = join(tmp.dir, 'powerdeal.db');
    const garbage = Buffer.alloc(64 * 1024, 'not a database, a damaged SD card sector ');
    writeFileSync(dbPath, garbage);
    const listener = await startNotifyListener(join(tmp.dir, 'notify.sock'));
    try {
      run = spawnRun(await writeConfig(tmp.dir, { dbPath }), {
        NOTIFY_SOCKET: listener.path,
        WATCHDOG_USEC: '2000000',
      });
      const ready = await listener.wait('READY=1', 45_000);
      expect(ready.pid).toBe(run.pid);
      // The alert rides on the status line systemd shows.
      expect(ready.msg).toMatch(/STATUS=.*ALERT database/);
      // Still live: a quarantine is an alert, not a reason to restart.
      await listener.wait('WATCHDOG=1', 20_000, 2);
      run.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      await listener.stop();
    }
    const moved = readdirSync(tmp.dir).filter(
      (f) => /^powerdeal\.db\.corrupt-/.test(f) && !/-(wal|shm)$/.test(f),
    );
    expect(moved).toHaveLength(1);
    expect(readFileSync(join(tmp.dir, moved[0] as string)).equals(garbage)).toBe(true);
    const lines = run.output().split('\n');
    expect(lines.some((l) => /"level":"error"/.test(l) && /database file is corrupt/.test(l))).toBe(true);
    // The fresh database works.
    const store = openStore({ path: dbPath, log: silentLogger() });
    expect(store.quickCheck()).toBe('ok');
    expect(store.readings.latest()).toBeDefined();
    store.close();
  });

  it('asks systemd for more start time before a pending migration, then migrates', async () => {
    const dir = join(tmp.dir, 'migrate');
    const dbPath = join(dir, 'powerdeal.db');
    expect(startupTimeNeededMs(dbPath)).toBeNull();
    mkdirSync(dir);
    // A database from before the first migration (schema version 0).
    const old = new Database(dbPath);
    old.exec('CREATE TABLE legacy (a)');
    old.close();
    expect(startupTimeNeededMs(dbPath)).toBeGreaterThan(60_000);
    const listener = await startNotifyListener(join(dir, 'notify.sock'));
    try {
      run = spawnRun(await writeConfig(dir, { dbPath }), { NOTIFY_SOCKET: listener.path });
      const ready = await listener.wait('READY=1', 45_000);
      const extend = listener.with('EXTEND_TIMEOUT_USEC=');
      expect(extend).toHaveLength(1);
      expect(extend[0]?.t).toBeLessThan(ready.t);
      expect(extend[0]?.pid).toBe(run.pid);
      run.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      await listener.stop();
    }
    expect(startupTimeNeededMs(dbPath)).toBeNull();
  });
});
