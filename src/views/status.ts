import type { Snapshot } from '../core/quantities.js';
import type { DeviceHealth } from '../devices/device.js';
import type { LinkStatus } from '../link/link.js';
import type { OutboxStatsDetail } from '../store/index.js';
import type { ModuleReport } from './module.js';

export interface CycleStats {
  cycles: number;
  overruns: number;
  skippedTicks: number;
  /** Reads not issued because the device's previous read was still running. */
  busySkips: number;
  sinkErrors: number;
  lastSinkError: string | null;
  lastStartTs: number | null;
  /** End of the last cycle that completed its reads and all sinks: what the watchdog calls progress. */
  lastProgressTs: number | null;
  lastDurationMs: number | null;
  durationP50Ms: number | null;
  durationP99Ms: number | null;
  running: boolean;
}

export interface DiskState {
  path: string;
  freeBytes: number | null;
  totalBytes: number | null;
  /** Free space is below the low-water mark. */
  low: boolean;
  /** The last write failed because the disk was full and none has succeeded since. */
  full: boolean;
  /** One line for the log, the health check and the status, or null when all is well. */
  alert: string | null;
  reserveHeld: boolean;
  /** What the guard did about it, since start. */
  reliefs: number;
  telemetryShed: number;
  readingsPruned: number;
  /** Sink writes refused because the disk was full (telemetry lost, readings kept in memory for a while). */
  failedWrites: number;
  lastCheckTs: number | null;
}

/** The systemd watchdog as the service pets it (src/service/watchdog.ts), for the metrics. */
export interface WatchdogView {
  /** WATCHDOG_USEC as ms; null when systemd asks for no watchdog. */
  timeoutMs: number | null;
  pings: number;
  /** Pings that were due but withheld because the service was not live. */
  withheld: number;
  lastPingTs: number | null;
}

/**
 * One JSON view of the whole service: `/api/status`, `powerdeal status`, the page. No secrets in it.
 * `Trading` is the trading section's type: the service fills it with its TradingStatus; a reader that
 * only passes the status on leaves it unknown, one that reads it names the fields it reads.
 */
export interface ServiceStatus<Trading = unknown> {
  home: { id: string; zone: string };
  version: string;
  pid: number;
  uptimeS: number;
  simulated: boolean;
  /** What is simulated: the GPIO and I2C devices (and `panel`) behind the in-memory backends. */
  simulatedParts: string[];
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
  trading?: Trading;
}
