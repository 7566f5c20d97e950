import type { Config } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import type { Snapshot } from '../core/quantities.js';
import { createEngine } from '../engine/index.js';
import { slotStart, tradingSlot } from '../engine/slots.js';
import type { EngineConfig } from '../engine/types.js';
import { deals, ownOffers, summary, totals } from '../engine/views.js';
import type { Logger } from '../log/logger.js';
import type { Envelope } from '../protocol/envelope.js';
import type { Store } from '../store/index.js';
import { EMPTY_TRADE_BOOK, type TradeBook } from '../views/trades.js';
import type { Actuation } from './actuation.js';
import { engineConfigFrom } from './engine-config.js';
import { TradingHost } from './host.js';
import type { TradingKeys } from './keys.js';
import { NO_DEALS, type TradingStatus } from './status.js';
import { createTradeBook } from './trade-book.js';

/** What trading takes from the service (its ServiceContext has these). */
export interface TradingContext {
  config: Config;
  log: Logger;
  /** The service clock's `now`: every time the host and the status use. */
  now: () => number;
}

export interface TradingOptions {
  ctx: TradingContext;
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
  private readonly engineConfig: EngineConfig;

  constructor(private readonly opts: TradingOptions) {
    this.engineConfig = engineConfigFrom(opts.ctx.config);
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
        engine: createEngine(this.engineConfig),
        store: this.opts.store(),
        signer,
        now: ctx.now,
        log,
        actuate: (cmds) => this.opts.actuation()?.apply(cmds),
        notify: this.opts.notify,
      });
      host.start();
    } catch (err) {
      this.failure = `trading off: the engine could not start: ${errorText(err)}`;
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

  connected(): void {
    this.host?.connected();
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
      slotMs: this.engineConfig.slotMs,
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
        engineFaults: 0,
        lastEngineFault: null,
        host: null,
      };
    }
    const state = host.state;
    const s = summary(state);
    const stats = host.stats();
    const current = slotStart(now, this.engineConfig.slotMs);
    // The offer being traded (gate not closed yet), else the one being delivered in this slot.
    const offers = ownOffers(state);
    const offer = offers.find((o) => o.exp > now) ?? offers.find((o) => o.slot === current) ?? null;
    const byStatus = { ...NO_DEALS };
    for (const d of deals(state)) byStatus[d.status]++;
    const fault = stats.lastEngineFault;
    return {
      ...base,
      // An engine fault is a bug, not a bad input: the page says so until the service restarts.
      warnings: fault
        ? [
            ...base.warnings,
            `the trading engine failed ${stats.engineFaults} time(s) and kept its previous state; last at ${new Date(fault.ts).toISOString()}: ${fault.text}`,
          ]
        : base.warnings,
      state: 'on',
      off: null,
      reason: null,
      role: s.role,
      netW: s.netW === null ? null : Math.round(s.netW),
      tradingSlot: tradingSlot(now, this.engineConfig.slotMs),
      offer,
      loadsOn: s.loadsOn,
      exportLimitPct: s.exportLimitPct,
      deals: byStatus,
      totals: totals(state),
      engineFaults: stats.engineFaults,
      lastEngineFault: stats.lastEngineFault,
      host: stats,
    };
  }
}

/**
 * The service module (the service's ServiceModule shape): starts trading after the cycle, before the
 * link (whose inbox feeds it).
 */
export function tradingModule(trading: Trading): {
  readonly name: string;
  readonly essential: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
} {
  return {
    name: 'trading',
    essential: false,
    start: async () => trading.start(),
    stop: async () => trading.stop(),
  };
}
