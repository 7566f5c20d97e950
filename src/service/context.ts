import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { ProfileFile } from '../devices/profiles.js';
import type { Logger } from '../log/logger.js';

/** What every module of the service receives: one typed context, no globals. */
export interface ServiceContext {
  config: Config;
  profiles: ReadonlyMap<string, ProfileFile>;
  log: Logger;
  /** The one source of time and timers (`systemClock` in the service, a manual clock in tests). */
  clock: Clock;
  /** `clock.now`, for the modules that only read the time. */
  now: () => number;
  /** Use the in-memory GPIO and I2C backends (no such hardware here, or a demo). */
  simulated: boolean;
  version: string;
}
