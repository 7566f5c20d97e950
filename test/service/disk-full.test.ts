import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { openStore } from '../../src/store/index.js';
import { freePort, waitFor } from '../helpers/ports.js';
import {
  type NotifyListener,
  type RunProcess,
  spawnRun,
  startNotifyListener,
  tempDir,
  writeConfig,
} from '../systemd/helpers.js';

const PROMISES = 200;

/** Fills a file until the filesystem refuses more (ENOSPC). Returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let n = 0;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return n;
}

/**
 * The database on a real 8 MB filesystem (tmpfs) that another writer fills to the last byte: the
 * service keeps running (watchdog pings go on), raises the alert in STATUS=, sheds telemetry, and every
 * never-shed row is still there afterwards.
 */
describe('a full disk', () => {
  const tmp = tempDir('pd-diskfull-');
  const mnt = join(tmp.dir, 'disk');
  let listener: NotifyListener;
  let run: RunProcess;
  const dbPath = join(mnt, 'powerdeal.db');

  beforeAll(() => {
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
    const store = openStore({ path: dbPath, log: silentLogger() });
    store.transaction(() => {
      for (let i = 0; i < PROMISES; i++) {
        store.outbox.enqueue(
          {
            id: `settlement-${i}`,
            class: 'settlement',
            topic: 'powerdeal/v1/zone-1/home-1/trades',
            payload: Buffer.from(JSON.stringify({ i })),
            retain: false,
          },
          Date.now(),
        );
      }
    });
    store.close();
  });

  afterAll(async () => {
    run?.kill('SIGKILL');
    await run?.exited;
    await listener?.stop();
    try {
      execFileSync('umount', ['-l', mnt]);
    } catch {
      // not mounted (beforeAll failed early)
    }
    tmp.cleanup();
  });

  it('keeps the service running, sheds telemetry and keeps every promise', async () => {
    listener = await startNotifyListener(join(tmp.dir, 'notify.sock'));
    // No broker answers: telemetry piles up in the outbox, as during an outage.
    const deadBroker = `mqtt://127.0.0.1:${await freePort()}`;
    const config = await writeConfig(tmp.dir, {
      dbPath,
      broker: deadBroker,
      store: { readingsFlushMs: 0, lowDiskMb: 1, diskReserveMb: 1 },
      mqtt: { telemetryIntervalMs: 1000 },
    });
    run = spawnRun(config, { NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '2000000' });
    await listener.wait('READY=1', 45_000);
    await listener.wait('WATCHDOG=1', 20_000, 2);
    // Telemetry must be queued before the disk fills, or there is nothing to shed (STATUS= counts the
    // outbox rows: the promises plus what telemetry has queued).
    const queued = () =>
      Math.max(0, ...listener.with('STATUS=').map((m) => Number(/outbox (\d+)/.exec(m.msg)?.[1] ?? 0)));
    await waitFor(() => queued() > PROMISES, 30_000, 'telemetry queued in the outbox');

    const filler = join(mnt, 'filler');
    expect(fill(filler), 'filled').toBeGreaterThan(0);
    const filledAt = listener.messages.at(-1)?.t ?? 0;

    // The alert shows in STATUS=, and the watchdog keeps being petted: restarting frees no space.
    await waitFor(
      () => listener.with('STATUS=').some((m) => m.t > filledAt && /ALERT disk/.test(m.msg)),
      30_000,
      'the disk alert in STATUS=',
    );
    const pingsAfter = () => listener.with('WATCHDOG=1').filter((m) => m.t > filledAt).length;
    await waitFor(() => pingsAfter() >= 5, 30_000, 'watchdog pings with the disk full');
    expect(run.child.exitCode).toBeNull();
    expect(run.output()).toMatch(/disk full/);

    // Space comes back: the service writes again.
    rmSync(filler);
    // Readings are minute rows, the running minute rewritten at each write: a newer last cycle on disk
    // than the one there when the space came back means the service writes again.
    const newestCycle = () => {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT max(cycle) AS c FROM readings').get() as { c: number | null }).c ?? -1;
      } finally {
        db.close();
      }
    };
    const cycleAtFree = newestCycle();
    await waitFor(() => newestCycle() > cycleAtFree, 30_000, 'readings written after the space came back');
    run.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    const store = openStore({ path: dbPath, log: silentLogger() });
    try {
      const stats = store.outbox.stats(Date.now());
      expect(stats.depth.settlement).toBe(PROMISES);
      expect(stats.drops.purged, 'telemetry shed').toBeGreaterThan(0);
      expect(store.quickCheck()).toBe('ok');
      // Readings were written after the space came back.
      expect(store.readings.latest()?.cycle ?? -1, 'readings after').toBeGreaterThan(cycleAtFree);
    } finally {
      store.close();
    }
  });
});
