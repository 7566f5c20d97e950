import type { EventEmitter } from 'node:events';
import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Snapshot } from '../core/quantities.js';
import type { DeviceHealth } from '../devices/device.js';
import type { GpioBackend } from '../devices/gpio/backend.js';
import type { Relay } from '../devices/gpio/relay.js';
import type { I2cBusRegistry } from '../devices/i2c/registry.js';
import type { BusRegistry } from '../devices/modbus/bus-registry.js';
import type { LinkStatus } from '../link/link.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';
import type { HealthReport } from './health.js';
import type { RelayControl } from './relays.js';
import type { CycleStats, DiskState, ServiceStatus } from './status.js';
import type { TradeBook } from './trades.js';

/** What the service announces to its extensions (the page's live stream, the watchdog, …). */
export interface ServiceEvents {
  /** Every cycle's frozen snapshot, after the sinks ran. */
  snapshot: [Snapshot];
}

/** The hardware as extensions reach it: the buses and lines the devices use, so requests queue behind them. */
export interface ExtensionHardware {
  readonly relays: readonly Relay[];
  readonly gpio: GpioBackend;
  readonly buses: BusRegistry;
  readonly i2c: I2cBusRegistry;
  health(): DeviceHealth[];
}

/**
 * What an extension receives: the parts of the running service it may use, built by the composition
 * root (src/service/service.ts) once the core modules (store, disk, hardware, cycle, trading, link,
 * panel) run. Nothing in it throws for a part that is not there: an optional part is undefined.
 */
export interface ExtensionContext {
  readonly config: Config;
  /** A child logger named after the extension. */
  readonly log: Logger;
  readonly clock: Clock;
  readonly version: string;
  readonly store: Store;
  readonly hardware: ExtensionHardware;
  /** The relays as a person drives them (an override wins over trading until set back to auto). */
  readonly relays: RelayControl;
  /** The MQTT link; undefined when no broker is configured (or it failed to start). */
  readonly link: { notify(): void; status(): LinkStatus } | undefined;
  /** The cycle's newest snapshot and its counters. */
  readonly cycle: { latest(): Snapshot | undefined; stats(): CycleStats };
  readonly events: EventEmitter<ServiceEvents>;
  /** The home's offers and trades (empty until trading runs). */
  readonly trades: TradeBook;
  status(): ServiceStatus;
  health(): HealthReport;
  /** Free space beside the database; null with an in-memory database. */
  disk(): DiskState | null;
}

/** A running extension, stopped by the composition root in reverse order. */
export interface ExtensionInstance {
  stop(deadlineMs: number): Promise<void>;
}

/**
 * A module that plugs into the service after the core and before the web server (the control socket,
 * the housekeeping jobs). Its start failing is logged and reported; the service runs without it.
 */
export interface Extension {
  readonly name: string;
  start(ctx: ExtensionContext): Promise<ExtensionInstance>;
}
