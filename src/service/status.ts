import type { CycleRunner } from '../cycle/runner.js';
import type { Link } from '../link/link.js';
import type { Store } from '../store/index.js';
import type { TradingStatus } from '../trading/status.js';
import type { ModuleReport } from '../views/module.js';
import type { DiskState, ServiceStatus } from '../views/status.js';
import type { OfferView, TradeView } from '../views/trades.js';
import type { PageStatus as WebPageStatus } from '../web/page-status.js';
import type { ServiceContext } from './context.js';
import type { Hardware } from './hardware.js';

/** The service's status as it builds it: the view contract with this service's trading section. */
export type FullStatus = ServiceStatus<TradingStatus>;

/** `/api/status` as this service fills it: its trading section and its trade book's items. */
export type PageStatus = WebPageStatus<TradingStatus, TradeView, OfferView>;

export function serviceStatus(parts: {
  ctx: ServiceContext;
  startedAt: number;
  store: Store | undefined;
  hardware: Hardware | undefined;
  cycle: CycleRunner | undefined;
  link: Link | undefined;
  disk: DiskState | null;
  modules: ModuleReport[];
  trading?: TradingStatus;
}): FullStatus {
  const now = parts.ctx.clock.now();
  return {
    home: parts.ctx.config.home,
    version: parts.ctx.version,
    pid: process.pid,
    uptimeS: Math.round((now - parts.startedAt) / 1000),
    simulated: parts.ctx.simulated,
    simulatedParts: [...(parts.hardware?.simulatedParts ?? [])],
    modules: parts.modules,
    cycle: parts.cycle?.stats() ?? null,
    snapshot: parts.cycle?.latest() ?? null,
    devices: parts.hardware?.health() ?? [],
    link: parts.link?.status() ?? null,
    outbox: parts.store?.outbox.stats(now) ?? null,
    disk: parts.disk,
    quarantined: parts.store?.quarantined ?? null,
    ...(parts.trading ? { trading: parts.trading } : {}),
  };
}
