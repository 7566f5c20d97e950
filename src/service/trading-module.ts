import type { Snapshot } from '../core/quantities.js';
import { createEngine } from '../engine/index.js';
import { deals, ownOffers, summary, totals } from '../engine/views.js';
import type { Envelope } from '../protocol/envelope.js';
import type { Store } from '../store/index.js';
import { engineConfigFrom } from '../trading/engine-config.js';
import { TradingHost } from '../trading/host.js';
import { createTradeBook } from '../trading/trade-book.js';
import type { ServiceContext } from './context.js';
import type { ServiceModule } from './module.js';
import type { Actuation } from './trading-actuators.js';
import type { TradingKeys } from './trading-keys.js';
import { NO_DEALS, type TradingStatus } from './trading-status.js';
import { EMPTY_TRADE_BOOK, type TradeBook } from './web-trades.js';

export interface TradingOptions {
  ctx: ServiceContext;
  keys: TradingKeys;
  store: () => Store;
  /** Relays and the inverter limit; created with the hardware. */
  actuation: () => Actuation | undefined;
  /** Rows were enqueued: wake the link. */
  notify: () => void;
}

/**
 * Trading inside the service: the host around the pure engine, fed by the cycle (ticks) and the inbox
 * (messages), acting through the relays and the inverter. Runs when engine.trading is on, a broker is
 * configured and the key and keyring load; otherwise it stays off and says why (status, page, STATUS=).
 */
export class Trading {
  private host: TradingHost | null = null;
  private book: TradeBook | null = null;
  private failure: string | null = null;
  private readonly slotMs: number;

  constructor(private readonly opts: TradingOptions) {
    this.slotMs = opts.ctx.config.engine.slotMinutes * 60_000;
  }

  start(): void {
    const { ctx, keys } = this.opts;
    const log = ctx.log.child({ module: 'trading' });
    for (const w of keys.warnings) log.warn(w);
    if (keys.off) {
      log.warn({ off: keys.off.code }, keys.off.text);
      return;
    }
    const signer = keys.signer;
    if (!signer) return;
    let host: TradingHost;
    try {
      host = new TradingHost({
        home: ctx.config.home,
        engine: createEngine(engineConfigFrom(ctx.config)),
        store: this.opts.store(),
        signer,
        now: ctx.now,
        log,
        actuate: (cmds) => this.opts.actuation()?.apply(cmds),
        notify: this.opts.notify,
      });
      host.start();
    } catch (err) {
      this.failure = `trading off: the engine could not start: ${(err as Error).message}`;
      throw err;
    }
    this.host = host;
    this.book = createTradeBook(host, this.opts.store());
    log.info({ slotMinutes: ctx.config.engine.slotMinutes }, 'trading on');
  }

  stop(): void {
    this.host = null;
    this.book = null;
  }

  /** One cycle's snapshot (a sink after the readings). */
  tick(snapshot: Snapshot): void {
    this.host?.tick(snapshot);
  }

  /** A verified, deduplicated envelope, inside the inbox's transaction. */
  message(env: Envelope): void {
    this.host?.message(env);
  }

  offerWithdrawn(home: string): void {
    this.host?.offerWithdrawn(home);
  }

  /** Offers and trades for the page and the API; empty while trading is off. */
  tradeBook(): TradeBook {
    return {
      trades: (since) => (this.book ?? EMPTY_TRADE_BOOK).trades(since),
      offers: (since) => (this.book ?? EMPTY_TRADE_BOOK).offers(since),
      totals: () => (this.book ?? EMPTY_TRADE_BOOK).totals(),
    };
  }

  status(now: number): TradingStatus {
    const { keys } = this.opts;
    const host = this.host;
    const base = {
      warnings: keys.warnings,
      signing: keys.signer !== null,
      keyringMembers: keys.keyring?.members.size ?? null,
      slotMs: this.slotMs,
      actuation: this.opts.actuation()?.stats() ?? null,
    };
    if (!host) {
      const off = keys.off ?? { code: 'failed' as const, text: this.failure ?? 'trading off: not started' };
      return {
        ...base,
        state: 'off',
        off: off.code,
        reason: off.text,
        role: null,
        netW: null,
        tradingSlot: null,
        offer: null,
        loadsOn: [],
        exportLimitPct: null,
        deals: { ...NO_DEALS },
        totals: null,
        host: null,
      };
    }
    const state = host.state;
    const s = summary(state);
    const current = Math.floor(now / this.slotMs) * this.slotMs;
    // The offer being traded (gate not closed yet), else the one being delivered in this slot.
    const offers = ownOffers(state);
    const offer = offers.find((o) => o.exp > now) ?? offers.find((o) => o.slot === current) ?? null;
    const byStatus = { ...NO_DEALS };
    for (const d of deals(state)) byStatus[d.status]++;
    return {
      ...base,
      state: 'on',
      off: null,
      reason: null,
      role: s.role,
      netW: s.netW === null ? null : Math.round(s.netW),
      tradingSlot: current + this.slotMs,
      offer,
      loadsOn: s.loadsOn,
      exportLimitPct: s.exportLimitPct,
      deals: byStatus,
      totals: totals(state),
      host: host.stats(),
    };
  }
}

/** The service module: starts trading after the cycle, before the link (whose inbox feeds it). */
export function tradingModule(trading: Trading): ServiceModule {
  return {
    name: 'trading',
    essential: false,
    start: async () => trading.start(),
    stop: async () => trading.stop(),
  };
}
