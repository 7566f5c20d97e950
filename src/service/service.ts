import { EventEmitter } from 'node:events';
import { type Clock, systemClock } from '../core/clock.js';
import { CycleRunner, type SnapshotSink } from '../cycle/runner.js';
import { createLink, type Link } from '../link/link.js';
import { createVerifier } from '../protocol/signing.js';
import { openStore, type Store } from '../store/index.js';
import { Actuation } from '../trading/actuation.js';
import { loadTradingKeys, type TradingKeys } from '../trading/keys.js';
import { Trading, tradingModule } from '../trading/trading.js';
import type { Extension, ExtensionContext, ExtensionInstance, ServiceEvents } from '../views/extension.js';
import type { HealthReport } from '../views/health.js';
import type { ServiceModule } from '../views/module.js';
import type { WatchdogView } from '../views/status.js';
import { createWebModule } from '../web/module.js';
import type { WebServer } from '../web/server.js';
import { AutomatedRelays } from './automated-relays.js';
import type { ServiceContext } from './context.js';
import { DiskGuard, diskTolerant } from './disk-guard.js';
import { EventLoopLag } from './event-loop-lag.js';
import { DEFAULT_EXTENSIONS } from './extensions.js';
import { fallbackOptions } from './fallback.js';
import { buildHardware, type Hardware } from './hardware.js';
import { evaluateHealth } from './health.js';
import { Lifecycle } from './lifecycle.js';
import { Panel } from './panel.js';
import { type FullStatus, serviceStatus } from './status.js';
import { TelemetrySink } from './telemetry-sink.js';

/** Telemetry rows held in memory at most while the broker acknowledges them (store.telemetryStageMs). */
const MAX_STAGED_TELEMETRY = 256;

/** What a caller gives the service: its context, the clock defaulting to the system clock (`now` reads it). */
export type ServiceInit = Omit<ServiceContext, 'clock'> & { clock?: Clock };

/**
 * The composition root: builds every module from one context, in dependency order, and owns their
 * lifecycle. Nothing else wires modules together: extensions (extensions.ts) and the web module get a
 * context of the running parts they use, built here once the core modules run. The accessors below are
 * the root's own view of its parts (the demo, tests); they throw before `start()`.
 */
export class Service {
  readonly startedAt: number;
  readonly events = new EventEmitter<ServiceEvents>();
  /** Event-loop lag, one input of the health model. */
  readonly lag = new EventLoopLag();
  private parts: {
    store?: Store;
    hardware?: Hardware;
    cycle?: CycleRunner;
    link?: Link;
    web?: WebServer;
    panel?: Panel;
    disk?: DiskGuard;
    relays?: AutomatedRelays;
    actuation?: Actuation;
  } = {};
  private readonly lifecycle: Lifecycle;
  /** The systemd watchdog's counters, once `powerdeal run` pets it (the metrics read them). */
  private watchdogView: (() => WatchdogView) | null = null;
  /** The home's key and the zone keyring: what it signs and verifies with, and whether it may trade. */
  readonly keys: TradingKeys;
  readonly trading: Trading;
  readonly ctx: ServiceContext;

  constructor(init: ServiceInit, extensions: readonly Extension[] = DEFAULT_EXTENSIONS) {
    const clock = init.clock ?? systemClock;
    // With a clock given, `now` is that clock's time whatever was passed beside it.
    const ctx: ServiceContext = { ...init, clock, now: init.clock ? () => clock.now() : init.now };
    this.ctx = ctx;
    this.startedAt = ctx.clock.now();
    this.keys = loadTradingKeys(ctx.config);
    this.trading = new Trading({
      ctx,
      keys: this.keys,
      store: () => this.store,
      actuation: () => this.parts.actuation,
      notify: () => this.parts.link?.notify(),
    });
    const modules: ServiceModule[] = [
      this.storeModule(),
      this.diskModule(),
      this.hardwareModule(),
      this.cycleModule(),
      tradingModule(this.trading),
      ...(ctx.config.mqtt ? [this.linkModule()] : []),
      this.panelModule(),
      ...extensions.map((ext) => this.extensionModule(ext)),
      this.webModule(),
    ];
    this.lifecycle = new Lifecycle(modules, ctx.log, ctx.clock);
  }

  async start(): Promise<void> {
    this.lag.start();
    await this.lifecycle.start();
    this.ctx.log.info({ home: this.ctx.config.home, version: this.ctx.version }, 'service started');
  }

  /**
   * Stops within the deadline. Trading stops commanding, the cycle stops and the relays go to their
   * safe state first (a frozen broker must not keep a load switched on); then the modules in reverse
   * order: web, extensions, link (waits for in-flight acks with what is left of the deadline), trading,
   * cycle, hardware, store (closed last).
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    const { clock } = this.ctx;
    const end = clock.now() + deadlineMs;
    this.parts.actuation?.halt();
    await this.parts.cycle?.stop();
    const relays = this.parts.hardware?.relays ?? [];
    await Promise.all(
      relays.map((r) =>
        r
          .set(r.safeState)
          .catch((err) => this.ctx.log.error({ err, relay: r.id }, 'relay to safe state failed')),
      ),
    );
    await this.lifecycle.stop(Math.max(0, end - clock.now()));
    this.lag.stop();
  }

  status(): FullStatus {
    return serviceStatus({
      ctx: this.ctx,
      startedAt: this.startedAt,
      store: this.parts.store,
      hardware: this.parts.hardware,
      cycle: this.parts.cycle,
      link: this.parts.link,
      disk: this.parts.disk?.state() ?? null,
      modules: this.lifecycle.report(),
      trading: this.trading.status(this.ctx.clock.now()),
    });
  }

  /** `powerdeal run` pets the systemd watchdog from outside the service: its counters for the metrics. */
  watchedBy(view: () => WatchdogView): void {
    this.watchdogView = view;
  }

  /** The one health model (watchdog, STATUS=, /healthz, /readyz). */
  health(): HealthReport {
    const store = this.parts.store;
    const open = store !== undefined && !store.closed;
    return evaluateHealth(this.status(), this.ctx.clock.now(), this.ctx.config.cycleMs, {
      lagMs: this.lag.maxMs(),
      storeOpen: open,
      writes: open ? store.writeHealth() : null,
      disk: this.parts.disk?.state() ?? null,
      quarantined: store?.quarantined ?? null,
    });
  }

  get store(): Store {
    return need(this.parts.store, 'store');
  }
  get hardware(): Hardware {
    return need(this.parts.hardware, 'hardware');
  }
  get cycle(): CycleRunner {
    return need(this.parts.cycle, 'cycle');
  }
  /** The relays as the page and the engine drive them (a manual override wins until set back to auto). */
  get relays(): AutomatedRelays {
    return need(this.parts.relays, 'relays');
  }
  /** The MQTT link, or undefined when no broker is configured (or it failed to start). */
  get link(): Link | undefined {
    return this.parts.link;
  }
  get webPort(): number | undefined {
    return this.parts.web?.port;
  }

  private storeModule(): ServiceModule {
    const { ctx } = this;
    return {
      name: 'store',
      essential: true,
      start: async () => {
        this.parts.store = openStore({
          path: ctx.config.store.path,
          log: ctx.log.child({ module: 'store' }),
          now: ctx.now,
          outboxCaps: ctx.config.mqtt?.outbox,
          readingsFlushMs: ctx.config.store.readingsFlushMs,
          telemetryStaging: { stageMs: ctx.config.store.telemetryStageMs, maxRows: MAX_STAGED_TELEMETRY },
        });
      },
      stop: async () => this.parts.store?.close(),
    };
  }

  private diskModule(): ServiceModule {
    const { ctx } = this;
    return {
      name: 'disk',
      essential: false,
      start: async () => {
        if (ctx.config.store.path === ':memory:') return;
        this.parts.disk = new DiskGuard({
          dbPath: ctx.config.store.path,
          store: () => this.parts.store,
          log: ctx.log.child({ module: 'disk' }),
          clock: ctx.clock,
          lowBytes: ctx.config.store.lowDiskMb * 1024 * 1024,
          reserveBytes: ctx.config.store.diskReserveMb * 1024 * 1024,
        });
        this.parts.disk.start();
      },
      stop: async () => this.parts.disk?.stop(),
    };
  }

  private hardwareModule(): ServiceModule {
    return {
      name: 'hardware',
      essential: true,
      start: async () => {
        const { ctx } = this;
        const hardware = await buildHardware(ctx);
        this.parts.hardware = hardware;
        const log = ctx.log.child({ module: 'actuators' });
        this.parts.relays = new AutomatedRelays(hardware.relays, ctx.config, log, ctx.now);
        this.parts.actuation = new Actuation(this.parts.relays, hardware.devices, log, ctx.now);
      },
      stop: async () => this.parts.hardware?.stop(),
    };
  }

  private cycleModule(): ServiceModule {
    const { ctx } = this;
    return {
      name: 'cycle',
      essential: true,
      start: async () => {
        const store = this.store;
        // A full disk must not stop the cycle: those two writes go to the disk guard instead.
        const disk = () => this.parts.disk;
        const sinks: SnapshotSink[] = [
          diskTolerant({ name: 'readings', accept: (s) => store.readings.append(s, ctx.clock.now()) }, disk),
          // Trading starts after the cycle: until then (or when it is off) this sink does nothing.
          diskTolerant({ name: 'trading', accept: (s) => this.trading.tick(s) }, disk),
        ];
        if (ctx.config.mqtt)
          sinks.push(
            diskTolerant(
              new TelemetrySink(ctx, store, () => this.parts.link?.notify(), this.keys.signer),
              disk,
            ),
          );
        sinks.push({ name: 'events', accept: (s) => void this.events.emit('snapshot', s) });
        this.parts.cycle = new CycleRunner({
          devices: this.hardware.devices,
          cycleMs: ctx.config.cycleMs,
          log: ctx.log.child({ module: 'cycle' }),
          clock: ctx.clock,
          maxAgeMs: (id) => this.hardware.maxAgeMs(id),
          sinks,
        });
        this.parts.cycle.start();
      },
      stop: async () => this.parts.cycle?.stop(),
    };
  }

  private linkModule(): ServiceModule {
    const { ctx } = this;
    const mqtt = ctx.config.mqtt;
    return {
      name: 'link',
      essential: false,
      start: async () => {
        if (!mqtt) return;
        const log = ctx.log.child({ module: 'link' });
        const fallback = fallbackOptions(ctx.config, this.keys, ctx.clock, log);
        if ('off' in fallback) log.info({ why: fallback.off }, 'link: no fallback');
        const link = createLink({
          mqtt,
          home: ctx.config.home,
          outbox: this.store.outbox,
          store: this.store,
          log,
          clock: ctx.clock,
          now: ctx.now,
          version: ctx.version,
          drainStartJitterMs: mqtt.drainStartJitterMs,
          signer: this.keys.signer ?? undefined,
          ...(this.keys.keyring ? { verify: createVerifier(this.keys.keyring) } : {}),
          onMessage: (env) => this.trading.message(env),
          onOfferWithdrawn: (home) => this.trading.offerWithdrawn(home),
          onConnected: () => this.trading.connected(),
          ...('options' in fallback ? { fallback: fallback.options } : {}),
        });
        this.parts.link = link;
        await link.start();
      },
      stop: async (deadlineMs) => this.parts.link?.stop(deadlineMs),
    };
  }

  private panelModule(): ServiceModule {
    return {
      name: 'panel',
      essential: false,
      start: async () => {
        const log = this.ctx.log.child({ module: 'panel' });
        this.parts.panel = new Panel(this.ctx, this.hardware.gpio, () => this.status(), log);
        await this.parts.panel.start();
      },
      stop: async () => this.parts.panel?.stop(),
    };
  }

  /** An extension as a module: its context is built when it starts, the core parts running by then. */
  private extensionModule(ext: Extension): ServiceModule {
    let instance: ExtensionInstance | undefined;
    return {
      name: ext.name,
      essential: false,
      start: async () => {
        instance = await ext.start(this.extensionContext(ext.name));
      },
      stop: async (deadlineMs) => {
        await instance?.stop(deadlineMs);
        instance = undefined;
      },
    };
  }

  private extensionContext(name: string): ExtensionContext {
    const { ctx } = this;
    return {
      config: ctx.config,
      log: ctx.log.child({ module: name }),
      clock: ctx.clock,
      version: ctx.version,
      store: this.store,
      hardware: this.hardware,
      relays: this.relays,
      link: this.parts.link,
      cycle: this.cycle,
      events: this.events,
      trades: this.trading.tradeBook(),
      status: () => this.status(),
      health: () => this.health(),
      disk: () => this.parts.disk?.state() ?? null,
    };
  }

  private webModule(): ServiceModule {
    return createWebModule(
      () => ({
        ...this.extensionContext('web'),
        status: () => this.status(),
        trades: this.trading.tradeBook(),
        trading: () => this.trading.status(this.ctx.clock.now()),
        watchdog: () => this.watchdogView?.() ?? null,
      }),
      (web) => {
        this.parts.web = web;
      },
    );
  }
}

function need<T>(part: T | undefined, name: string): T {
  if (part === undefined) throw new Error(`${name} is not running`);
  return part;
}
