import type { Command } from 'commander';
import { callService, intFlag } from '../../control/client/service-call.js';
import { listTradeRows } from '../../control/ops/trades.js';
import type { TradeRow } from '../../control/trades.js';
import { printJson, table } from '../output.js';
import { onStore } from '../store-access.js';

/** `powerdeal trades`: the home's trades, newest slot first. */
export function register(program: Command): void {
  program
    .command('trades')
    .description('list the trades this home made (slot, role, counterparty, energy, price, state)')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .action(async (opts: { limit: string; json?: boolean }, cmd: Command) => {
      const limit = intFlag('limit', opts.limit, 1, 10_000);
      const { value: rows, via } = await onStore(
        cmd,
        'read',
        (s) => callService<TradeRow[]>(s, 'trades.list', { limit }),
        (ops) => listTradeRows(ops, { limit }),
      );
      if (opts.json) {
        printJson({ via, trades: rows });
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no trades yet\n');
        return;
      }
      process.stdout.write(
        `${table(
          ['SLOT', 'ROLE', 'COUNTERPARTY', 'ENERGY', 'PRICE', 'STATE', 'SETTLED', 'ID'],
          rows.map((t) => [
            new Date(t.slot).toISOString(),
            t.role,
            t.counterparty,
            `${t.energyWh} Wh`,
            `${t.priceCentsPerKwh} c/kWh`,
            t.state === 'rejected' && t.rejectReason ? `rejected (${t.rejectReason})` : t.state,
            settledText(t),
            t.id,
          ]),
        )}\n`,
      );
    });
}

/** "40 Wh (40 / 55)": settled = min(own allocation, the counterparty's); what is known so far otherwise. */
function settledText(t: TradeRow): string {
  if (t.settledWh !== null)
    return `${t.settledWh} Wh (${t.ownAllocationWh ?? '?'} / ${t.peerAllocationWh ?? '?'})`;
  if (t.ownAllocationWh !== null) return `own ${t.ownAllocationWh} Wh, awaiting peer`;
  return '-';
}
