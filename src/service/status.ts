import type { Snapshot } from '../core/quantities.js';
import type { CycleRunner, CycleStats } from '../cycle/runner.js';
import type { DeviceHealth } from '../devices/device.js';
import type { Link, LinkStatus } from '../link/link.js';
import type { OutboxStatsDetail, Store } from '../store/index.js';
import type { TradingStatus } from '../trading/status.js';
import type { ServiceContext } from './context.js';
import type { DiskState } from './disk-guard.js';
import type { Hardware } from './hardware.js';
import type { ModuleReport } from './module.js';

/** One JSON view of the whole service: `/api/status`, `powerdeal status`, the page. No secrets in it. */
export interface ServiceStatus {
  home: { id: string; zone: string };
  version: string;
  pid: number;
  uptimeS: number;
  simulated: boolean;
  modules: ModuleReport[];
  cycle: CycleStats | null;
  snapshot: Snapshot | null;
  devices: DeviceHealth[];
  link: LinkStatus | null;
  outbox: OutboxStatsDetail | null;
  /** Free space beside the database and the low/full alert, once the disk guard runs. */
  disk: DiskState | null;
  /** Where a corrupt database found at start was moved to, or null. */
  quarantined: string | null;
  /** Trading on or off (and why), the current offer, counts; absent where the service has no trading. */
  trading?: TradingStatus;
}

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
}): ServiceStatus {
  const now = parts.ctx.now();
  return {
    home: parts.ctx.config.home,
    version: parts.ctx.version,
    pid: process.pid,
    uptimeS: Math.round((now - parts.startedAt) / 1000),
    simulated: parts.ctx.simulated,
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
