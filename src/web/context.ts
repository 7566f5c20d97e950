import type { ExtensionContext } from '../views/extension.js';
import type { ServiceStatus, WatchdogView } from '../views/status.js';
import type { TradingGauges } from './metrics.js';
import type { TradeBookReader } from './page-status.js';

/** What the web module reads: the extensions' context, the trade book, and the trading section it shows. */
export interface WebModuleContext extends Omit<ExtensionContext, 'status' | 'trades'> {
  status(): ServiceStatus<TradingGauges>;
  /** Offers and trades (the trading engine's book); empty until trading runs. */
  readonly trades: TradeBookReader;
  /** The status's trading section alone (each snapshot event carries it). */
  trading(): unknown;
  /** The systemd watchdog's counters once `powerdeal run` pets it, else null. */
  watchdog(): WatchdogView | null;
}
