import type { Clock } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { GRACE_MS, type LeaderBroker } from './fallback-options.js';
import { NamedTimers } from './named-timers.js';

/**
 * This home's fallback broker while it leads, and after: retired (no newcomers) once the home stops
 * leading, closed when nobody is connected any more or GRACE_MS later, so no member is stranded.
 */
export class OwnBroker {
  private broker: LeaderBroker | null = null;
  private retired = false;
  private readonly timers: NamedTimers;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly start: (onEpoch: (epoch: number) => void) => Promise<LeaderBroker>,
  ) {
    this.timers = new NamedTimers(clock);
  }

  get running(): LeaderBroker | null {
    return this.broker;
  }

  /** The broker ready for a new term; a retired one is closed and started afresh. */
  async open(onEpoch: (epoch: number) => void): Promise<LeaderBroker> {
    if (this.retired) await this.close();
    this.broker ??= await this.start(onEpoch);
    return this.broker;
  }

  retire(): void {
    const broker = this.broker;
    if (!broker || this.retired) return;
    this.retired = true;
    broker.retire();
    const until = this.clock.now() + GRACE_MS;
    const check = () => {
      if (this.broker !== broker) return;
      if (broker.clients === 0 || this.clock.now() >= until) void this.close();
      else this.timers.arm('grace', 1000, check);
    };
    this.timers.arm('grace', 1000, check);
  }

  async close(): Promise<void> {
    const broker = this.broker;
    this.broker = null;
    this.retired = false;
    this.timers.clearAll();
    if (!broker) return;
    await broker.close().catch((err: unknown) => {
      this.log.warn({ err: errorText(err) }, 'link: closing the fallback broker failed');
    });
    this.log.info('link: fallback broker stopped');
  }
}
