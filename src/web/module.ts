import { readFileSync } from 'node:fs';
import type { TimerHandle } from '../core/clock.js';
import type { ServiceModule } from '../views/module.js';
import { createTokenGate } from './auth.js';
import type { WebModuleContext } from './context.js';
import { createMetrics, type TradingGauges } from './metrics.js';
import { type PageStatus, publicConfig, withoutUserinfo } from './page-status.js';
import { TodayCounters } from './readings.js';
import { statusRoutes } from './routes.js';
import { WebServer } from './server.js';
import { SseHub } from './sse.js';
import { loadStaticFiles } from './static.js';
import { StatusWatch } from './watch.js';

/** How often the link, outbox, devices and warnings are compared for changes to push. */
const WATCH_MS = 1000;
const HEARTBEAT_MS = 5000;
const RETRY_MS = 2000;

/**
 * The web module: status page, JSON API, probes, metrics and the live event stream. Its context is built
 * by the composition root when it starts (the other modules run by then); `onServer` hands the server
 * back (for `webPort`).
 */
export function createWebModule(
  context: () => WebModuleContext,
  onServer: (server: WebServer | undefined) => void,
): ServiceModule {
  let server: WebServer | undefined;
  let timer: TimerHandle | undefined;
  let stopped = false;
  let ctx: WebModuleContext | undefined;
  let sse: SseHub | undefined;
  let onSnapshot: (() => void) | undefined;
  return {
    name: 'web',
    essential: false,
    start: async () => {
      const c = context();
      ctx = c;
      stopped = false;
      const cfg = c.config.web;
      const now = () => c.clock.now();
      const { trades, relays } = c;
      const tokens = createTokenGate(cfg.tokenFile);
      const today = new TodayCounters(c.store.readings);
      const config = publicConfig(c.config);
      const hub = new SseHub({
        maxClients: cfg.maxEventClients,
        heartbeatMs: HEARTBEAT_MS,
        retryMs: RETRY_MS,
        hello: () => ({ event: 'status', data: pageStatus() }),
        heartbeat: () => ({ ts: now(), health: c.health() }),
      });
      sse = hub;
      // Everything the page and the stream see goes through publicStatus: no credentials from a URL.
      const publicStatus = () => {
        const status = c.status();
        return { ...status, link: publicLink(status.link) };
      };
      const watch = new StatusWatch({
        status: publicStatus,
        now,
        emit: (event, data) => hub.broadcast(event, data),
      });
      const midnight = () => new Date(now()).setHours(0, 0, 0, 0);
      const pageStatus = (): PageStatus<TradingGauges> => {
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
        const dl = c.store.deadLetters;
        return {
          status: c.status(),
          deadLetterTotals: dl.totalsByReason(),
          deadLettersHeld: dl.count(),
          trades: trades.totals(),
          relays: relays.list().map((r) => ({ id: r.id, on: r.on, override: r.mode !== 'auto' })),
          sseClients: hub.size,
          watchdog: c.watchdog(),
          now: now(),
        };
      });

      // The duration of cycle N is known once its sinks ran, so it is recorded at cycle N + 1.
      let observed = 0;
      onSnapshot = () => {
        const stats = c.cycle.stats();
        if (stats.cycles - 1 > observed && stats.lastDurationMs !== null) {
          observed = stats.cycles - 1;
          metrics.observeCycle(stats.lastDurationMs);
        }
        if (hub.size === 0) return;
        const snapshot = c.cycle.latest();
        hub.broadcast('snapshot', {
          snapshot,
          today: today.compute(snapshot, now()),
          cycle: { cycles: stats.cycles, lastDurationMs: stats.lastDurationMs, overruns: stats.overruns },
          relays: relays.list(),
          trading: c.trading(),
          trades: trades.trades(midnight()),
          offers: trades.offers(midnight()),
        });
      };
      c.events.on('snapshot', onSnapshot);
      const look = () => {
        if (stopped) return;
        timer = c.clock.setTimer(look, WATCH_MS);
        try {
          watch.check();
        } catch (err) {
          c.log.error({ err }, 'status watch failed');
        }
      };
      look();

      server = new WebServer({
        listen: cfg.listen,
        allowedHosts: cfg.allowedHosts,
        ...(cfg.tls && { tls: { cert: readFileSync(cfg.tls.certFile), key: readFileSync(cfg.tls.keyFile) } }),
        log: c.log,
        tokens,
        maxBodyBytes: cfg.maxBodyBytes,
        staticFiles: loadStaticFiles(),
        routes: statusRoutes({ ctx: c, sse: hub, pageStatus, metrics: () => metrics.render() }),
      });
      await server.start();
      onServer(server);
    },
    stop: async () => {
      stopped = true;
      ctx?.clock.clearTimer(timer);
      if (onSnapshot) ctx?.events.off('snapshot', onSnapshot);
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
