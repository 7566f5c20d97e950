import { createTokenGate } from '../web/auth.js';
import { createMetrics } from '../web/metrics.js';
import { WebServer } from '../web/server.js';
import { SseHub } from '../web/sse.js';
import { loadStaticFiles } from '../web/static.js';
import type { ServiceModule } from './module.js';
import { statusRoutes } from './routes.js';
import type { Service } from './service.js';
import { type PageStatus, publicConfig, withoutUserinfo } from './web-page-status.js';
import { TodayCounters } from './web-readings.js';
import { EMPTY_TRADE_BOOK, type TradeBook } from './web-trades.js';
import { StatusWatch } from './web-watch.js';

/** How often the link, outbox, devices and warnings are compared for changes to push. */
const WATCH_MS = 1000;
const HEARTBEAT_MS = 5000;
const RETRY_MS = 2000;

export interface WebModuleOptions {
  /** Offers and trades (the trading engine's book); empty until trading runs. */
  trades?: TradeBook;
}

/**
 * The web module: status page, JSON API, probes, metrics and the live event stream, wired to the
 * service's parts once they run. `onServer` hands the server to the service (for `webPort`).
 */
export function createWebModule(
  service: Service,
  onServer: (server: WebServer | undefined) => void,
  opts: WebModuleOptions = {},
): ServiceModule {
  let server: WebServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let sse: SseHub | undefined;
  let onSnapshot: (() => void) | undefined;
  return {
    name: 'web',
    essential: false,
    start: async () => {
      const { ctx } = service;
      const cfg = ctx.config.web;
      const log = ctx.log.child({ module: 'web' });
      const now = () => ctx.now();
      const trades = opts.trades ?? EMPTY_TRADE_BOOK;
      const tokens = createTokenGate(cfg.tokenFile);
      // One set of relay modes for the page and the engine: an override here wins over trading.
      const relays = service.relays;
      const today = new TodayCounters(service.store.readings);
      const config = publicConfig(ctx.config);
      const hub = new SseHub({
        maxClients: cfg.maxEventClients,
        heartbeatMs: HEARTBEAT_MS,
        retryMs: RETRY_MS,
        hello: () => ({ event: 'status', data: pageStatus() }),
        heartbeat: () => ({ ts: now(), health: service.health() }),
      });
      sse = hub;
      // Everything the page and the stream see goes through publicStatus: no credentials from a URL.
      const publicStatus = () => {
        const status = service.status();
        return { ...status, link: publicLink(status.link) };
      };
      const watch = new StatusWatch({
        status: publicStatus,
        now,
        emit: (event, data) => hub.broadcast(event, data),
      });
      const midnight = () => new Date(now()).setHours(0, 0, 0, 0);
      const pageStatus = (): PageStatus => {
        const status = publicStatus();
        return {
          ...status,
          today: today.compute(status.snapshot, now()),
          relays: relays.list(),
          warnings: watch.warnings(),
          trades: trades.trades(midnight()),
          offers: trades.offers(midnight()),
          config,
          web: {
            stateChanges: tokens.enabled(),
            eventClients: hub.size,
            maxEventClients: cfg.maxEventClients,
          },
        };
      };
      const metrics = createMetrics(() => {
        const dl = service.store.deadLetters;
        return {
          status: service.status(),
          deadLetterTotals: dl.totalsByReason(),
          deadLettersHeld: dl.count(),
          trades: trades.totals(),
          relays: relays.list().map((r) => ({ id: r.id, on: r.on, override: r.mode !== 'auto' })),
          sseClients: hub.size,
        };
      });

      // The duration of cycle N is known once its sinks ran, so it is recorded at cycle N + 1.
      let observed = 0;
      onSnapshot = () => {
        const stats = service.cycle.stats();
        if (stats.cycles - 1 > observed && stats.lastDurationMs !== null) {
          observed = stats.cycles - 1;
          metrics.observeCycle(stats.lastDurationMs);
        }
        if (hub.size === 0) return;
        const snapshot = service.cycle.latest();
        hub.broadcast('snapshot', {
          snapshot,
          today: today.compute(snapshot, now()),
          cycle: { cycles: stats.cycles, lastDurationMs: stats.lastDurationMs, overruns: stats.overruns },
          relays: relays.list(),
          trading: service.trading.status(now()),
          trades: trades.trades(midnight()),
          offers: trades.offers(midnight()),
        });
      };
      service.events.on('snapshot', onSnapshot);
      timer = setInterval(() => {
        try {
          watch.check();
        } catch (err) {
          log.error({ err }, 'status watch failed');
        }
      }, WATCH_MS);
      timer.unref();
      watch.check();

      server = new WebServer({
        listen: cfg.listen,
        log,
        tokens,
        maxBodyBytes: cfg.maxBodyBytes,
        staticFiles: loadStaticFiles(),
        routes: statusRoutes({
          service,
          sse: hub,
          relays,
          trades,
          pageStatus,
          metrics: () => metrics.render(),
        }),
      });
      await server.start();
      onServer(server);
    },
    stop: async () => {
      if (timer) clearInterval(timer);
      if (onSnapshot) service.events.off('snapshot', onSnapshot);
      sse?.close();
      await server?.stop();
      onServer(undefined);
    },
  };
}

/** The link's status without anything a broker URL could carry (credentials in `user:pass@`). */
function publicLink<T>(link: T): T {
  if (!link || typeof link !== 'object') return link;
  const l = link as { broker?: string | null; lastError?: string | null };
  return {
    ...link,
    broker: l.broker ? withoutUserinfo(l.broker) : (l.broker ?? null),
    lastError: l.lastError ? l.lastError.replace(/([a-z]+:\/\/)[^@/\s]*@/gi, '$1') : (l.lastError ?? null),
  };
}
