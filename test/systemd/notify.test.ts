import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { waitFor } from '../helpers/ports.js';
import {
  type NotifyListener,
  type RunProcess,
  spawnRun,
  startNotifyListener,
  tempDir,
  writeConfig,
} from './helpers.js';

/**
 * `powerdeal run` under a fake systemd: a real notify socket (Python, SO_PASSCRED), WATCHDOG_USEC of
 * 2 s (a ping expected every second), the devices on the Modbus simulator. The cycle is stalled on
 * purpose by holding the database's write lock from another connection, which makes every cycle's
 * readings write wait out the busy timeout and fail.
 */
describe('sd_notify and the watchdog', () => {
  const tmp = tempDir();
  let sim: Simulator;
  let listener: NotifyListener;
  let run: RunProcess;
  let readyAfterMs = 0;
  const dbPath = join(tmp.dir, 'powerdeal.db');

  beforeAll(async () => {
    sim = await startSimulator({ tcp: { port: 0 } });
    listener = await startNotifyListener(join(tmp.dir, 'notify.sock'));
    const config = await writeConfig(tmp.dir, {
      dbPath,
      modbusTcpPort: sim.tcpPort,
      // Every cycle writes its readings, so a locked database stalls every cycle.
      store: { readingsFlushMs: 0 },
    });
    run = spawnRun(config, { NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '2000000' });
    await listener.wait('READY=1', 45_000);
    readyAfterMs = performance.now() - run.startedAt;
  });

  afterAll(async () => {
    run?.kill('SIGKILL');
    await run?.exited;
    await listener?.stop();
    await sim?.stop();
    tmp.cleanup();
  });

  it('sends READY=1 once, from the main PID, with a STATUS line', async () => {
    await listener.wait('WATCHDOG=1', 20_000, 3);
    const ready = listener.with('READY=1');
    expect(ready).toHaveLength(1);
    expect(ready[0]?.pid).toBe(run.pid);
    expect(ready[0]?.msg).toMatch(/STATUS=.*cycle/);
    expect(listener.messages.every((m) => m.pid === run.pid)).toBe(true);
    expect(readyAfterMs).toBeGreaterThan(0);
    console.log(`exec to READY=1: ${Math.round(readyAfterMs)} ms`);
  });

  it('pets the watchdog at WATCHDOG_USEC/2 while healthy', async () => {
    const from = listener.with('WATCHDOG=1').length;
    await listener.wait('WATCHDOG=1', 30_000, from + 5);
    const pings = listener.with('WATCHDOG=1').slice(from);
    const gaps = pings.slice(1).map((p, i) => p.t - (pings[i] as { t: number }).t);
    // Never faster than the period (minus the look slack); every ping from the main process.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0.8);
    expect(pings.every((p) => p.pid === run.pid)).toBe(true);
  });

  it('withholds WATCHDOG=1 while the cycle is stalled, and resumes after', async () => {
    const db = new Database(dbPath);
    db.pragma('busy_timeout = 10000');
    db.exec('BEGIN IMMEDIATE');
    const lockedAt = listener.messages.at(-1)?.t ?? 0;
    // A cycle already past its write may still ping once; after that, nothing while the lock holds. The
    // health model flips within its progress budget (3 s); the lock then holds for three ping periods
    // more (WATCHDOG_USEC/2 = 1 s), any of which would have pinged.
    const failing = () => listener.with('STATUS=').some((m) => m.t > lockedAt && /FAILING/.test(m.msg));
    await waitFor(failing, 20_000, 'STATUS=FAILING while the database is locked');
    await new Promise((r) => setTimeout(r, 3000));
    const heldUntil = listener.messages.at(-1)?.t ?? 0;
    db.exec('COMMIT');
    db.close();
    const during = listener.with('WATCHDOG=1').filter((m) => m.t > lockedAt + 3 && m.t <= heldUntil);
    expect(during).toHaveLength(0);
    expect(failing()).toBe(true);
    const before = listener.with('WATCHDOG=1').length;
    await listener.wait('WATCHDOG=1', 30_000, before + 2);
    expect(run.output()).toMatch(/withholding WATCHDOG=1/);
  });

  it('sends STOPPING=1 on SIGTERM and exits 0 within the stop deadline', async () => {
    const t0 = performance.now();
    run.kill('SIGTERM');
    const stopping = await listener.wait('STOPPING=1', 20_000);
    expect(stopping.pid).toBe(run.pid);
    expect(await run.exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(25_000);
    await waitFor(() => /"msg":"stopped"/.test(run.output()), 5000, 'stopped log line');
  });
});
