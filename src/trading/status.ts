import type { DealStatus, EngineTotals, OwnOfferView } from '../engine/types.js';
import type { ActuationStats } from './actuation.js';
import type { TradingHostStats } from './host-stats.js';

/** Why trading does not run, as a short code (STATUS=, metrics) next to the full sentence with the fix. */
export type TradingOffCode = 'disabled' | 'no-broker' | 'no-key' | 'no-keyring' | 'bad-key' | 'failed';

export interface TradingOff {
  code: TradingOffCode;
  /** The whole sentence: what is missing and the command or key that fixes it. */
  text: string;
}

const OFF_SHORT: Record<TradingOffCode, string> = {
  disabled: 'disabled',
  'no-broker': 'no broker',
  'no-key': 'no key',
  'no-keyring': 'no keyring',
  'bad-key': 'bad key',
  failed: 'failed',
};

/** The `trading` section of /api/status and `powerdeal status --json`. */
export interface TradingStatus {
  state: 'on' | 'off';
  /** Why trading is off (short code), null when on. */
  off: TradingOffCode | null;
  /** Why trading is off, with the fix; null when on. */
  reason: string | null;
  /** Problems that do not stop trading (e.g. this home missing from its keyring). */
  warnings: string[];
  /** Everything the home publishes is signed (a key loaded). */
  signing: boolean;
  /** Members of the zone keyring, null without one. */
  keyringMembers: number | null;
  role: 'seller' | 'buyer' | 'idle' | null;
  /** Smoothed surplus (+) or deficit (−), W; null when unknown or trading is off. */
  netW: number | null;
  slotMs: number;
  /** Start of the slot being traded now (the next one); offers and accepts close when it begins. */
  tradingSlot: number | null;
  /** This home's offer for the slot being traded (or the one being delivered), null when none. */
  offer: OwnOfferView | null;
  /** Flexible loads the engine has switched on. */
  loadsOn: string[];
  exportLimitPct: number | null;
  /** Deals in the engine's state, by status. */
  deals: Record<DealStatus, number>;
  totals: EngineTotals | null;
  /**
   * Inputs the engine failed on (an engine bug: each one dropped, the state kept as it was), since the
   * service started; 0 while trading is off. Above 0 the page should warn: the log has the error.
   */
  engineFaults: number;
  /** The last of them: `<event kind>: <error text>` and when; null before any. */
  lastEngineFault: { text: string; ts: number } | null;
  /** The host's counters (steps, messages sent, failures, engine faults). */
  host: TradingHostStats | null;
  actuation: ActuationStats | null;
}

export const NO_DEALS: Record<DealStatus, number> = {
  requested: 0,
  confirmed: 0,
  rejected: 0,
  expired: 0,
  settled: 0,
};

/** One short phrase for STATUS= and the page's summary line. */
export function tradingSummary(t: TradingStatus): string {
  if (t.state === 'off') return `trading off: ${OFF_SHORT[t.off ?? 'failed']}`;
  const o = t.offer;
  if (o && o.status === 'open') return `offer ${o.availableWh} Wh`;
  if (o && o.status === 'filled') return `offer sold ${o.energyWh} Wh`;
  if (t.deals.confirmed > 0) return `trades ${t.deals.confirmed} open`;
  if (t.deals.requested > 0) return `buying (${t.deals.requested} asked)`;
  return 'trading idle';
}
