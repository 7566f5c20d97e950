import { CycleRunner } from '../cycle/runner.js';
import type { Link } from '../link/index.js';
import { createLink } from '../link/index.js';
import { openStore, type Store } from '../store/index.js';
import { WebServer } from '../web/server.js';
import type { ServiceContext } from './context.js';
import { buildHardware, type Hardware } from './hardware.js';
import { Lifecycle } from './lifecycle.js';
import type { ServiceModule } from './module.js';
import { Panel } from './panel.js';
import { statusRoutes } from './routes.js';
import { type ServiceStatus, serviceStatus } from './status.js';
import { TelemetrySink } from './telemetry-sink.js';

/**
 * The composition root: builds every module from one context, in dependency order, and owns their
 * lifecycle. Nothing else in the code base wires modules together.
 */
export class Service {
  readonly startedAt: number;
  private store: Store | undefined;
  private hardware: Hardware | undefined;
  private cycle: CycleRunner | undefined;
  private link: Link | undefined;
  private web: WebServer | undefined;
  private panel: Panel | undefined;
  private readonly lifecycle: Lifecycle;

  constructor(readonly ctx: ServiceContext) {
    this.startedAt = ctx.now();
    const log = ctx.log;
    const modules: ServiceModule[] = [
      {
        name: 'store',
        essential: true,
        start: async () => {
          this.store = openStore({
            path: ctx.config.store.path,
            log: log.child({ module: 'store' }),
            now: ctx.now,
            outboxCaps: ctx.config.mqtt?.outbox,
            readingsFlushMs: ctx.config.store.readingsFlushMs,
          });
        },
        stop: async () => this.store?.close(),
      },
      {
        name: 'hardware',
        essential: true,
        start: async () => {
          this.hardware = await buildHardware(ctx);
        },
        stop: async () => this.hardware?.stop(),
      },
      {
        name: 'cycle',
        essential: true,
        start: async () => {
          const store = this.mustStore();
          const sinks = [
            {
              name: 'readings',
              accept: (s: Parameters<Store['readings']['append']>[0]) => store.readings.append(s, ctx.now()),
            },
          ];
          if (ctx.config.mqtt) sinks.push(new TelemetrySink(ctx, store));
          this.cycle = new CycleRunner({
            devices: this.hardware?.devices ?? [],
            cycleMs: ctx.config.cycleMs,
            log: log.child({ module: 'cycle' }),
            now: ctx.now,
            maxAgeMs: (id) => this.hardware?.maxAgeMs(id) ?? 3 * ctx.config.cycleMs,
            sinks,
          });
          this.cycle.start();
        },
        stop: async () => this.cycle?.stop(),
      },
    ];
    const mqtt = ctx.config.mqtt;
    if (mqtt) {
      modules.push({
        name: 'link',
        essential: false,
        start: async () => {
          const store = this.mustStore();
          this.link = createLink({
            mqtt,
            home: ctx.config.home,
            outbox: store.outbox,
            store,
            log: log.child({ module: 'link' }),
            now: ctx.now,
            version: ctx.version,
          });
          await this.link.start();
        },
        stop: async (deadlineMs) => this.link?.stop(deadlineMs),
      });
    }
    modules.push({
      name: 'panel',
      essential: false,
      start: async () => {
        if (!this.hardware) return;
        this.panel = new Panel(ctx, this.hardware.gpio, () => this.status(), log.child({ module: 'panel' }));
        await this.panel.start();
      },
      stop: async () => this.panel?.stop(),
    });
    modules.push({
      name: 'web',
      essential: false,
      start: async () => {
        this.web = new WebServer({
          listen: ctx.config.web.listen,
          log: log.child({ module: 'web' }),
          routes: statusRoutes(this),
        });
        await this.web.start();
      },
      stop: async () => this.web?.stop(),
    });
    this.lifecycle = new Lifecycle(modules, log);
  }

  async start(): Promise<void> {
    await this.lifecycle.start();
    this.ctx.log.info({ home: this.ctx.config.home, version: this.ctx.version }, 'service started');
  }

  /** Stops everything within the deadline: cycle first, relays to safe state, link acks, database last. */
  async stop(deadlineMs = 10_000): Promise<void> {
    await this.lifecycle.stop(deadlineMs);
  }

  status(): ServiceStatus {
    return serviceStatus({
      ctx: this.ctx,
      startedAt: this.startedAt,
      store: this.store,
      hardware: this.hardware,
      cycle: this.cycle,
      link: this.link,
      modules: this.lifecycle.report(),
    });
  }

  get webPort(): number | undefined {
    return this.web?.port;
  }

  private mustStore(): Store {
    if (!this.store) throw new Error('store not open');
    return this.store;
  }
}
