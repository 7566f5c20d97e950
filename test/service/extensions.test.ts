import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { loadProfiles } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { Service } from '../../src/service/service.js';
import type { Extension, ExtensionContext } from '../../src/views/extension.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { tempDir } from '../systemd/helpers.js';

describe('extensions', () => {
  it('start after the core with a context of the running parts, and stop before it', async () => {
    const tmp = tempDir('pd-ext-');
    const clock = new ManualClock();
    const seen: { ctx?: ExtensionContext; modulesAtStart?: string[]; stoppedWith?: number } = {};
    const probe: Extension = {
      name: 'probe',
      start: async (ctx) => {
        seen.ctx = ctx;
        seen.modulesAtStart = ctx
          .status()
          .modules.filter((m) => m.state === 'running')
          .map((m) => m.name);
        return {
          stop: async (deadlineMs) => {
            seen.stoppedWith = deadlineMs;
            expect(ctx.store.closed).toBe(false); // the core is still there
          },
        };
      },
    };
    const service = new Service(
      {
        config: configSchema.parse({
          home: { id: 'home-ext', zone: 'zone-ext' },
          store: { path: join(tmp.dir, 'powerdeal.db') },
          control: { socket: join(tmp.dir, 'control.sock') },
          web: { listen: '127.0.0.1:0' },
        }),
        profiles: loadProfiles(),
        log: silentLogger(),
        now: Date.now,
        clock,
        simulated: true,
        version: 'test',
      },
      [probe],
    );
    try {
      await service.start();
      const ctx = seen.ctx;
      if (!ctx) throw new Error('the extension did not start');
      expect(seen.modulesAtStart).toEqual(['store', 'disk', 'hardware', 'cycle', 'trading', 'panel']);
      expect(Object.keys(ctx).sort()).toEqual(
        [
          'clock',
          'config',
          'cycle',
          'disk',
          'events',
          'hardware',
          'health',
          'link',
          'log',
          'relays',
          'status',
          'store',
          'trades',
          'version',
        ].sort(),
      );
      expect(ctx.clock).toBe(clock);
      expect(ctx.link).toBeUndefined(); // no broker configured
      expect(ctx.status().home).toEqual({ id: 'home-ext', zone: 'zone-ext' });
      expect(ctx.health().checks.map((c) => c.name)).toContain('cycle');
      expect(ctx.relays.list()).toEqual([]);
      expect(service.status().modules.map((m) => [m.name, m.state])).toContainEqual(['probe', 'running']);
    } finally {
      await service.stop(2000);
      tmp.cleanup();
    }
    expect(seen.stoppedWith).toBeGreaterThan(0);
  });
});
