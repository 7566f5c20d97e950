import type { Config } from '../config/schema.js';
import { VERSION } from '../core/version.js';
import type { ProfileFile } from '../devices/profiles.js';
import { createLogger, type Logger } from '../log/logger.js';
import { hardwareIsSimulated } from './hardware.js';
import { Service } from './service.js';

export interface RunOptions {
  config: Config;
  profiles: ReadonlyMap<string, ProfileFile>;
  /** Force the in-memory GPIO/I2C backends; otherwise chosen by whether the hardware exists. */
  simulated?: boolean;
  log?: Logger;
  /** How long a SIGTERM may take before the process exits anyway (keep below TimeoutStopSec). */
  stopDeadlineMs?: number;
}

/**
 * Runs the service until SIGTERM/SIGINT and resolves with the exit code. Crashes end the process with a
 * fatal log line so systemd restarts it; nothing is swallowed.
 */
export async function runService(opts: RunOptions): Promise<number> {
  const log = opts.log ?? createLogger({ level: opts.config.log.level });
  const service = new Service({
    config: opts.config,
    profiles: opts.profiles,
    log,
    now: Date.now,
    simulated: opts.simulated ?? hardwareIsSimulated(),
    version: VERSION,
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception: exiting so the supervisor restarts the service');
    log.flush?.();
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection: exiting so the supervisor restarts the service');
    log.flush?.();
    process.exit(70);
  });
  await service.start();
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      service
        .stop(opts.stopDeadlineMs ?? 20_000)
        .then(() => resolve(0))
        .catch((err) => {
          log.error({ err }, 'stop failed');
          resolve(1);
        });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
