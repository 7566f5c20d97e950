import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { openStore } from '../../src/store/index.js';

const T0 = Date.UTC(2026, 0, 1);
const FLUSH_CYCLES = 300; // the writer's readingsFlushMs at one second per cycle

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('readings after a power cut', () => {
  it.each([1250, 2450])(
    'lose at most the last flush interval, and what was written is whole (SIGKILL after cycle %i)',
    async (killAfter) => {
      const dir = mkdtempSync(join(tmpdir(), 'pd-readings-cut-'));
      dirs.push(dir);
      const path = join(dir, 'powerdeal.db');
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          new URL('./fixtures/readings-writer.ts', import.meta.url).pathname,
          path,
          String(T0),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let last = -1;
      const lines = createInterface({ input: child.stdout });
      await new Promise<void>((resolve) => {
        lines.on('line', (line) => {
          last = Number(line.split(' ')[1]);
          if (last >= killAfter) {
            child.kill('SIGKILL');
            resolve();
          }
        });
      });
      await once(child, 'exit');

      const store = openStore({ path, log: silentLogger() });
      try {
        expect(store.quickCheck()).toBe('ok');
        const hourly = store.readings.hourly(T0).filter((h) => h.quantity === 'pvPowerW');
        const kept = hourly.reduce((n, h) => n + h.count, 0);
        // Everything up to the last write is there, cycle for cycle; after it, at most one interval went.
        expect(kept % FLUSH_CYCLES).toBe(1);
        expect(last - kept).toBeLessThan(FLUSH_CYCLES);
        expect(kept).toBeLessThanOrEqual(last + 1);
        // The minute rows are gapless up to the running minute of the last write, and their counters
        // stay exact (the first value of each minute).
        const rows = store.readings.since(T0, 10_000);
        const minutes = Math.floor((kept - 1) / 60) + 1;
        expect(rows.map((r) => r.ts)).toEqual(Array.from({ length: minutes }, (_, m) => T0 + m * 60_000));
        expect(rows.map((r) => r.quantities.gridImportWh?.value)).toEqual(
          Array.from({ length: minutes }, (_, m) => 1000 + m * 60),
        );
      } finally {
        store.close();
      }
    },
    60_000,
  );
});
