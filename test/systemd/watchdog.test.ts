import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { EventLoopLag } from '../../src/service/event-loop-lag.js';
import { evaluateHealth } from '../../src/service/health.js';
import { createNotifier, formatNotify, watchdogUsec } from '../../src/service/notify.js';
import type { FullStatus as ServiceStatus } from '../../src/service/status.js';
import { Watchdog } from '../../src/service/watchdog.js';
import type { WriteHealth } from '../../src/store/index.js';
import type { HealthReport } from '../../src/views/health.js';
import type { DiskState } from '../../src/views/status.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { type NotifyListener, startNotifyListener, tempDir } from './helpers.js';

const NOW = 1_700_000_000_000;

function status(over: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    home: { id: 'h', zone: 'z' },
    version: 't',
    pid: 1,
    uptimeS: 10,
    simulated: true,
    simulatedParts: [],
    modules: [{ name: 'store', state: 'running', error: null }],
    cycle: { running: true, lastProgressTs: NOW - 500, cycles: 42 } as ServiceStatus['cycle'],
    snapshot: null,
    devices: [],
    link: null,
    outbox: null,
    disk: null,
    quarantined: null,
    ...over,
  };
}

const okWrites: WriteHealth = {
  lastOkTs: NOW,
  lastErrorTs: null,
  lastErrorCode: null,
  lastError: null,
  failing: false,
  diskFull: false,
  diskFullErrors: 0,
  otherErrors: 0,
};

describe('the health model', () => {
  it('is live and ready when cycles progress, the loop is responsive and the store writes', () => {
    const h = evaluateHealth(status(), NOW, 1000, { lagMs: 30, writes: okWrites, storeOpen: true });
    expect(h.live).toBe(true);
    expect(h.ready).toBe(true);
    expect(h.alerts).toEqual([]);
    expect(h.summary).toMatch(/^ok, cycle 42/);
  });

  it('is not live when the last cycle is older than its budget, or the cycle stopped', () => {
    expect(evaluateHealth(status(), NOW + 3000, 1000).live).toBe(false);
    const stopped = status({ cycle: { running: false, lastProgressTs: NOW } as ServiceStatus['cycle'] });
    expect(evaluateHealth(stopped, NOW, 1000).live).toBe(false);
    expect(evaluateHealth(status({ cycle: null }), NOW, 1000).summary).toMatch(/FAILING cycle/);
    // The first cycle gets one budget, no more.
    const first = (startTs: number) =>
      status({
        cycle: { running: true, lastProgressTs: null, lastStartTs: startTs } as ServiceStatus['cycle'],
      });
    expect(evaluateHealth(first(NOW - 1000), NOW, 1000).live).toBe(true);
    expect(evaluateHealth(first(NOW - 5000), NOW, 1000).live).toBe(false);
    const failingSinks = status({
      cycle: {
        running: true,
        lastProgressTs: null,
        lastStartTs: NOW - 100,
        cycles: 9,
      } as ServiceStatus['cycle'],
    });
    expect(evaluateHealth(failingSinks, NOW, 1000).live).toBe(false);
  });

  it('is not live with a lagging event loop or a store whose commits fail', () => {
    expect(evaluateHealth(status(), NOW, 1000, { lagMs: 2500 }).live).toBe(false);
    const busy = { ...okWrites, failing: true, lastErrorTs: NOW, lastErrorCode: 'SQLITE_BUSY' };
    const h = evaluateHealth(status(), NOW, 1000, { writes: busy, storeOpen: true });
    expect(h.live).toBe(false);
    expect(h.checks.find((c) => c.name === 'store')?.detail).toMatch(/SQLITE_BUSY/);
    expect(evaluateHealth(status(), NOW, 1000, { writes: okWrites, storeOpen: false }).live).toBe(false);
  });

  it('treats a full disk as an alert, not a reason to restart', () => {
    const full = { ...okWrites, failing: true, diskFull: true, lastErrorCode: 'SQLITE_FULL' };
    const disk = { alert: 'disk full: writes failing', freeBytes: 0 } as DiskState;
    const h = evaluateHealth(status(), NOW, 1000, { writes: full, storeOpen: true, disk });
    expect(h.live).toBe(true);
    expect(h.ready).toBe(true);
    expect(h.alerts).toEqual(['disk: disk full: writes failing']);
    expect(h.summary).toMatch(/ALERT disk/);
  });

  it('is live but not ready when a module failed', () => {
    const h = evaluateHealth(status({ modules: [{ name: 'link', state: 'failed', error: 'x' }] }), NOW, 1000);
    expect(h).toMatchObject({ live: true, ready: false });
  });
});

describe('event-loop lag', () => {
  it('sees a single long block for the rest of its window', async () => {
    const lag = new EventLoopLag({ windowMs: 5000, resolutionMs: 50 });
    lag.start();
    try {
      await new Promise((r) => setTimeout(r, 200));
      const until = Date.now() + 800;
      while (Date.now() < until) {
        // blocked
      }
      await new Promise((r) => setTimeout(r, 300));
      expect(lag.maxMs()).toBeGreaterThanOrEqual(700);
    } finally {
      lag.stop();
    }
  });
});

describe('notify', () => {
  it('does nothing without NOTIFY_SOCKET', () => {
    const n = createNotifier(silentLogger(), {});
    expect(n.enabled).toBe(false);
    expect(n.ready()).toBe(false);
  });

  it('formats one datagram of KEY=VALUE lines, STATUS on one line', () => {
    expect(formatNotify({ READY: 1, STATUS: 'a\nb' })).toBe('READY=1\nSTATUS=a b');
  });

  it('reads the watchdog period for this PID only', () => {
    expect(watchdogUsec({ WATCHDOG_USEC: '30000000' }, 7)).toBe(30_000_000);
    expect(watchdogUsec({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7)).toBe(30_000_000);
    expect(watchdogUsec({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7)).toBeNull();
    expect(watchdogUsec({}, 7)).toBeNull();
  });
});

describe('the watchdog against a real notify socket', () => {
  const tmp = tempDir('pd-wd-');
  let listener: NotifyListener;
  let abstract: NotifyListener;

  beforeAll(async () => {
    listener = await startNotifyListener(join(tmp.dir, 'notify.sock'));
    abstract = await startNotifyListener(`@powerdeal-test-${process.pid}`);
  });
  afterAll(async () => {
    await listener?.stop();
    await abstract?.stop();
    tmp.cleanup();
  });

  it('pings only while live, resumes at once on recovery, and updates STATUS= on each flip', async () => {
    const notifier = createNotifier(silentLogger(), { NOTIFY_SOCKET: listener.path });
    let live = true;
    const report = (): HealthReport => ({
      live,
      ready: live,
      checks: [{ name: 'cycle', ok: live, detail: live ? 'fine' : 'stalled', severity: 'live' }],
      summary: live ? 'ok' : 'FAILING cycle',
      alerts: [],
    });
    const clock = new ManualClock();
    const wd = new Watchdog({
      notifier,
      pingEveryMs: 200,
      health: report,
      log: silentLogger(),
      clock,
      elapsedMs: clock.now,
    });
    wd.start();
    try {
      // A look every 50 ms, a ping every 200 ms: at 0, 200, 400 and 600 ms.
      await clock.advance(600);
      expect(wd.stats().pings).toBe(4);
      await listener.wait('WATCHDOG=1', 10_000, 4);
      live = false;
      await clock.advance(50);
      await listener.wait('STATUS=FAILING cycle', 10_000);
      const stalledAt = listener.messages.at(-1)?.t ?? 0;
      // A whole second of looks while not live: none pings; each look once a ping is due (from 800 ms,
      // the last ping having gone at 600) counts as withheld.
      await clock.advance(1000);
      expect(wd.stats().pings).toBe(4);
      expect(wd.stats().withheld).toBe(18);
      expect(listener.with('WATCHDOG=1').filter((m) => m.t > stalledAt)).toHaveLength(0);
      expect(wd.stats().lastFailure).toMatch(/cycle: stalled/);
      live = true;
      const before = listener.with('WATCHDOG=1').length;
      // The first look after recovery pings, without waiting for the period.
      await clock.advance(50);
      expect(wd.stats().pings).toBe(5);
      await listener.wait('WATCHDOG=1', 10_000, before + 1);
      await listener.wait('STATUS=ok', 10_000, 2);
      expect(listener.messages.every((m) => m.pid === process.pid)).toBe(true);
    } finally {
      wd.stop();
      notifier.close();
    }
  });

  it('reaches an abstract socket (@name) through systemd-notify', async () => {
    const notifier = createNotifier(silentLogger(), { NOTIFY_SOCKET: abstract.path });
    expect(notifier.ready('up')).toBe(true);
    const m = await abstract.wait('READY=1', 10_000);
    expect(m.msg).toMatch(/STATUS=up/);
  });
});
