import { EventEmitter } from 'node:events';
import type { Snapshot } from '../core/quantities.js';
import { CycleRunner, type SnapshotSink } from '../cycle/runner.js';
import { createLink, type Link } from '../link/link.js';
import { openStore, type Store } from '../store/index.js';
import { WebServer } from '../web/server.js';
import type { ServiceContext } from './context.js';
import { DEFAULT_EXTENSIONS, type Extension } from './extensions.js';
import { buildHardware, type Hardware } from './hardware.js';
import { evaluateHealth, type HealthReport } from './health.js';
import { Lifecycle } from './lifecycle.js';
import type { ServiceModule } from './module.js';
import { Panel } from './panel.js';
import { statusRoutes } from './routes.js';
import { type ServiceStatus, serviceStatus } from './status.js';
import { TelemetrySink } from './telemetry-sink.js';

/** What the service announces to its extensions (the page's live stream, the watchdog, …). */
export interface ServiceEvents {
  /** Every cycle's frozen snapshot, after the sinks ran. */
  snapshot: [Snapshot];
}

/**
 * The composition root: builds every module from one context, in dependency order, and owns their
 * lifecycle. Nothing else wires modules together; later modules plug in as extensions (see
 * extensions.ts) and reach the core parts through the accessors below once `start()` has run.
 */
export class Service {
  readonly startedAt: number;
  readonly events = new EventEmitter<ServiceEvents>();
  private parts: {
    store?: Store;
    hardware?: Hardware;
    cycle?: CycleRunner;
    link?: Link;
    web?: WebServer;
    panel?: Panel;
  } = {};
  private readonly lifecycle: Lifecycle;

  constructor(
    readonly ctx: ServiceContext,
    extensions: readonly Extension[] = DEFAULT_EXTENSIONS,
  ) {
    this.startedAt = ctx.now();
    const modules: ServiceModule[] = [
      this.storeModule(),
      this.hardwareModule(),
      this.cycleModule(),
      ...(ctx.config.mqtt ? [this.linkModule()] : []),
      this.panelModule(),
      ...extensions.map((create) => create(this)),
      this.webModule(),
    ];
    this.lifecycle = new Lifecycle(modules, ctx.log);
  }

  async start(): Promise<void> {
    await this.lifecycle.start();
    this.ctx.log.info({ home: this.ctx.config.home, version: this.ctx.version }, 'service started');
  }

  /** Stops in reverse order within the deadline: web, extensions, link (acks), cycle, relays safe, store. */
  async stop(deadlineMs = 10_000): Promise<void> {
    await this.lifecycle.stop(deadlineMs);
  }

  status(): ServiceStatus {
    return serviceStatus({
      ctx: this.ctx,
      startedAt: this.startedAt,
      store: this.parts.store,
      hardware: this.parts.hardware,
      cycle: this.parts.cycle,
      link: this.parts.link,
      modules: this.lifecycle.report(),
    });
  }

  /** The one health model (watchdog, STATUS=, /healthz, /readyz). */
  health(): HealthReport {
    return evaluateHealth(this.status(), this.ctx.now(), this.ctx.config.cycleMs);
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
        });
      },
      stop: async () => this.parts.store?.close(),
    };
  }

  private hardwareModule(): ServiceModule {
    return {
      name: 'hardware',
      essential: true,
      start: async () => {
        this.parts.hardware = await buildHardware(this.ctx);
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
        const sinks: SnapshotSink[] = [
          { name: 'readings', accept: (s) => store.readings.append(s, ctx.now()) },
        ];
        if (ctx.config.mqtt) sinks.push(new TelemetrySink(ctx, store));
        sinks.push({ name: 'events', accept: (s) => void this.events.emit('snapshot', s) });
        this.parts.cycle = new CycleRunner({
          devices: this.hardware.devices,
          cycleMs: ctx.config.cycleMs,
          log: ctx.log.child({ module: 'cycle' }),
          now: ctx.now,
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
        const link = createLink({
          mqtt,
          home: ctx.config.home,
          outbox: this.store.outbox,
          store: this.store,
          log: ctx.log.child({ module: 'link' }),
          now: ctx.now,
          version: ctx.version,
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

  private webModule(): ServiceModule {
    return {
      name: 'web',
      essential: false,
      start: async () => {
        this.parts.web = new WebServer({
          listen: this.ctx.config.web.listen,
          log: this.ctx.log.child({ module: 'web' }),
          routes: statusRoutes(this),
        });
        await this.parts.web.start();
      },
      stop: async () => this.parts.web?.stop(),
    };
  }
}

function need<T>(part: T | undefined, name: string): T {
  if (part === undefined) throw new Error(`${name} is not running`);
  return part;
}
