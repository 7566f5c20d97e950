import type { Clock } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { ModuleReport, ModuleState, ServiceModule } from '../views/module.js';

/**
 * Starts modules in order and stops them in reverse. A non-essential module that fails to start is
 * isolated: logged, reported as `failed`, and the rest of the service runs without it.
 */
export class Lifecycle {
  private readonly states = new Map<string, { state: ModuleState; error: string | null }>();
  private readonly started: ServiceModule[] = [];

  constructor(
    private readonly modules: readonly ServiceModule[],
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    for (const m of modules) this.states.set(m.name, { state: 'stopped', error: null });
  }

  async start(): Promise<void> {
    for (const m of this.modules) {
      this.states.set(m.name, { state: 'starting', error: null });
      try {
        await m.start();
        this.started.push(m);
        this.states.set(m.name, { state: 'running', error: null });
      } catch (err) {
        this.states.set(m.name, { state: 'failed', error: errorText(err) });
        if (m.essential) {
          this.log.fatal({ err, module: m.name }, 'essential module failed to start');
          await this.stop(5_000);
          throw err;
        }
        this.log.error({ err, module: m.name }, 'module failed to start; running without it');
      }
    }
  }

  /** Stops what was started, in reverse order, sharing one deadline. Never throws. */
  async stop(deadlineMs: number): Promise<void> {
    const end = this.clock.now() + deadlineMs;
    while (this.started.length > 0) {
      const m = this.started.pop() as ServiceModule;
      this.states.set(m.name, { state: 'stopping', error: null });
      try {
        await m.stop(Math.max(0, end - this.clock.now()));
        this.states.set(m.name, { state: 'stopped', error: null });
      } catch (err) {
        this.states.set(m.name, { state: 'failed', error: errorText(err) });
        this.log.error({ err, module: m.name }, 'module failed to stop cleanly');
      }
    }
  }

  report(): ModuleReport[] {
    return this.modules.map((m) => ({
      name: m.name,
      ...(this.states.get(m.name) ?? { state: 'stopped', error: null }),
    }));
  }
}
