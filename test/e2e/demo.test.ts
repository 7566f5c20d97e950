import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliProcess, spawnCli } from '../helpers/cli.js';

interface Started {
  event: 'started';
  homes: Array<{ id: string; role: 'seller' | 'buyer'; web: string }>;
}
interface TradeEvent {
  event: 'trade';
  tradeId: string;
  seller: string;
  buyer: string;
  energyWh: number;
  priceCentsPerKwh: number;
}
interface PageTrade {
  id: string;
  role: 'seller' | 'buyer';
  counterparty: string;
  energyWh: number;
  state: string;
}

const events = (demo: CliProcess) =>
  demo.lines.flatMap((l) => {
    if (!l.startsWith('{')) return [];
    const e = JSON.parse(l) as { event?: string };
    return typeof e.event === 'string' ? [e] : [];
  });

/**
 * `powerdeal demo --json` as a user runs it, on a fresh HOME and temp dir: three simulated homes trade
 * within a minute, the feed says so, each home's status page knows the trade, and the demo ends on its
 * own with nothing left behind.
 */
describe('powerdeal demo', () => {
  const home = mkdtempSync(join(tmpdir(), 'pd-demo-home-'));
  const tmp = join(home, 'tmp');
  mkdirSync(tmp);
  let demo: CliProcess | undefined;

  afterAll(async () => {
    await demo?.stop('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });

  it('trades between three homes, shows it on their pages, and exits clean', async () => {
    demo = spawnCli(['demo', '--duration', '90', '--json'], {
      // tsx would keep its compile cache in TMPDIR: that is how the test runs the CLI, not the demo.
      env: { HOME: home, TMPDIR: tmp, POWERDEAL_LOG_LEVEL: 'warn', TSX_DISABLE_CACHE: '1' },
    });
    const started = JSON.parse(
      await demo.waitForLine((l) => l.includes('"event":"started"'), 45_000),
    ) as Started;
    expect(started.homes.map((h) => h.role)).toEqual(['seller', 'buyer', 'buyer']);
    expect(new Set(started.homes.map((h) => h.web)).size).toBe(3);

    await demo.waitForLine((l) => l.includes('"event":"offer"'), 60_000);
    const trade = JSON.parse(
      await demo.waitForLine((l) => l.includes('"event":"trade"'), 60_000),
    ) as TradeEvent;
    expect(trade.seller).toBe('sunny-1');
    expect(trade.energyWh).toBeGreaterThan(0);

    // Both sides' pages list the trade with the same energy.
    const web = (id: string) => started.homes.find((h) => h.id === id)?.web as string;
    const pageTrade = async (id: string) => {
      const status = (await (await fetch(new URL('/api/status', web(id)))).json()) as { trades: PageTrade[] };
      return status.trades.find((t) => t.id === trade.tradeId);
    };
    const sold = await pageTrade(trade.seller);
    const bought = await pageTrade(trade.buyer);
    expect(sold).toMatchObject({ role: 'seller', counterparty: trade.buyer, energyWh: trade.energyWh });
    expect(bought).toMatchObject({ role: 'buyer', counterparty: trade.seller, energyWh: trade.energyWh });
    expect(['confirmed', 'settled']).toContain(sold?.state);
    expect(['confirmed', 'settled']).toContain(bought?.state);

    const code = await new Promise<number | null>((resolve) => {
      if (demo?.child.exitCode !== null) resolve(demo?.child.exitCode ?? null);
      demo?.child.once('exit', (c) => resolve(c));
    });
    expect(code).toBe(0);
    const all = events(demo);
    const stopped = all.find((e) => e.event === 'stopped') as { totals: { trades: number; refused: number } };
    expect(stopped.totals.trades).toBeGreaterThanOrEqual(1);
    expect(stopped.totals.refused).toBe(0);
    expect(all.filter((e) => e.event === 'refused')).toEqual([]);
    // Nothing left behind: the demo wrote only in its temp dir, and removed it.
    expect(readdirSync(tmp)).toEqual([]);
    expect(readdirSync(home)).toEqual(['tmp']);
  }, 170_000);
});
