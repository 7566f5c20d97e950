import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { DiskGuard } from '../../src/service/disk-guard.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { tempDir } from '../systemd/helpers.js';

describe('disk guard', () => {
  it('measures at start and then every intervalMs on the service clock, and not after stop', async () => {
    const tmp = tempDir('pd-disk-');
    const clock = new ManualClock();
    const guard = new DiskGuard({
      dbPath: join(tmp.dir, 'powerdeal.db'),
      store: () => undefined,
      log: silentLogger(),
      clock,
      lowBytes: 0,
      reserveBytes: 0,
      intervalMs: 30_000,
    });
    try {
      const t0 = clock.now();
      guard.start();
      expect(guard.state()).toMatchObject({ lastCheckTs: t0, low: false, full: false, alert: null });
      expect(guard.state().freeBytes).toBeGreaterThan(0);
      await clock.advance(29_999);
      expect(guard.state().lastCheckTs).toBe(t0);
      await clock.advance(1);
      expect(guard.state().lastCheckTs).toBe(t0 + 30_000);
      await clock.advance(60_000);
      expect(guard.state().lastCheckTs).toBe(t0 + 90_000);
      guard.stop();
      expect(clock.timers).toBe(0);
      await clock.advance(60_000);
      expect(guard.state().lastCheckTs).toBe(t0 + 90_000);
    } finally {
      guard.stop();
      tmp.cleanup();
    }
  });
});
