import type { Config } from '../config/schema.js';
import { systemClock } from '../core/clock.js';
import { VERSION } from '../core/version.js';
import type { ProfileFile } from '../devices/profiles.js';
import { createLogger, type Logger } from '../log/logger.js';
import { lockForService } from './database-lock.js';
import { hardwareIsSimulated } from './hardware.js';
import { createNotifier, watchdogUsec } from './notify.js';
import { Service } from './service.js';
import { startupTimeNeededMs } from './startup-time.js';
import { Watchdog } from './watchdog.js';

export interface RunOptions {
  config: Config;
  profiles: ReadonlyMap<string, ProfileFile>;
  /** Force the in-memory GPIO/I2C backends; otherwise chosen by whether the hardware exists. */
  simulated?: boolean;
  log?: Logger;
  /**
   * How long a SIGTERM may take before the process exits anyway. Default 20 s, below the unit's
   * TimeoutStopSec=30 so systemd never has to SIGKILL a process that is still closing its database.
   */
  stopDeadlineMs?: number;
  /** The environment systemd passed (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Extra time past the stop deadline before the process exits on its own, whatever is still running. */
const HARD_EXIT_GRACE_MS = 5_000;
/** After a clean stop, how long the process may linger for handles others left open. */
const EXIT_LINGER_MS = 1_000;

/**
 * Runs the service until SIGTERM/SIGINT and resolves with the exit code; throws DatabaseLockedError,
 * before anything is opened, when another service holds the database. Tells systemd READY=1 once
 * the store is open and migrated and the device workers run (not waiting for devices or the broker to
 * answer), keeps STATUS= current, pets the watchdog only while the health model says the service makes
 * progress, and sends STOPPING=1 at shutdown. Crashes end the process with a fatal log line so systemd
 * restarts it; nothing is swallowed.
 */
export async function runService(opts: RunOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? createLogger({ level: opts.config.log.level });
  const lock = await lockForService(opts.config.store.path, log);
  const notifier = createNotifier(log.child({ module: 'notify' }), env);
  const service = new Service({
    config: opts.config,
    profiles: opts.profiles,
    log,
    clock: systemClock,
    now: systemClock.now,
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

  // Opening the store is synchronous (integrity check, migrations): ask for the time before it starts.
  const needed = startupTimeNeededMs(opts.config.store.path);
  if (needed !== null) {
    log.info(
      { extendMs: needed },
      'startup: large database or pending migration; asking systemd for more time',
    );
    notifier.extendTimeout(needed);
  }
  notifier.status('starting: opening the store');

  // Signals during start are remembered and acted on once start has finished.
  let signalled: NodeJS.Signals | null = null;
  let onSignal: (signal: NodeJS.Signals) => void = (signal) => {
    signalled = signal;
  };
  const handler = (signal: NodeJS.Signals) => onSignal(signal);
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);

  try {
    await service.start();
  } catch (err) {
    notifier.stopping('start failed');
    notifier.close();
    lock.release();
    throw err;
  }
  const usec = watchdogUsec(env);
  const watchdog = new Watchdog({
    notifier,
    pingEveryMs: usec === null ? null : usec / 2000,
    health: () => service.health(),
    log: log.child({ module: 'watchdog' }),
    clock: service.ctx.clock,
  });
  service.watchedBy(() => ({ ...watchdog.stats(), timeoutMs: usec === null ? null : usec / 1000 }));
  notifier.ready(service.health().summary);
  watchdog.start();
  log.info({ watchdogMs: usec === null ? null : usec / 1000, notify: notifier.enabled }, 'ready');

  return await new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (signal) => {
      if (stopping) return;
      stopping = true;
      const deadlineMs = opts.stopDeadlineMs ?? 20_000;
      log.info({ signal, deadlineMs }, 'stopping');
      notifier.stopping(`stopping (${signal})`);
      watchdog.stop();
      // The last resort: an exit before systemd's SIGKILL even if a module ignores its deadline.
      const hard = setTimeout(() => {
        log.fatal('stop overran its deadline; exiting now');
        log.flush?.();
        process.exit(1);
      }, deadlineMs + HARD_EXIT_GRACE_MS);
      hard.unref();
      service
        .stop(deadlineMs)
        .then(() => {
          log.info('stopped');
          resolve(0);
        })
        .catch((err) => {
          log.error({ err }, 'stop failed');
          resolve(1);
        })
        .finally(() => {
          clearTimeout(hard);
          // The database is closed by now: the next service may open it.
          lock.release();
          notifier.close();
          process.off('SIGTERM', handler);
          process.off('SIGINT', handler);
          // Everything is closed; a timer or socket some library left behind must not hold the exit.
          const linger = setTimeout(() => {
            log.warn('handles still open after stop; exiting anyway');
            log.flush?.();
            process.exit(process.exitCode ?? 0);
          }, EXIT_LINGER_MS);
          linger.unref();
        });
    };
    if (signalled) onSignal(signalled);
  });
}
