import type { DeviceConfig } from '../../config/schema.js';
import { errorText } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import type { Switch } from '../capabilities.js';
import { type DeviceHealth, newHealth } from '../device.js';
import { ProfileError } from '../profile-error.js';
import type { ProfileFile } from '../profile-file.js';
import type { GpioBackend, OutputLine } from './backend.js';
import { gpioProfileOf } from './profile.js';

export interface RelayContext {
  gpio: GpioBackend;
  log: Logger;
  now?: () => number;
}

export interface Relay extends Switch {
  /** Opens the line already at the safe state. Never throws: a line that cannot be opened is a fault. */
  start(): Promise<void>;
  /** Drives the safe state and releases the line (without unexporting it). */
  stop(): Promise<void>;
  health(): DeviceHealth;
}

/**
 * A relay on a header GPIO. The line becomes an output directly at the safe state, goes back to it at
 * stop, and is only written when the wanted state differs from the known one. Writes are serialized.
 * A relay that failed to open is retried on the next `set`, opening at the safe state again first.
 */
export function createRelay(cfg: DeviceConfig, profile: ProfileFile, ctx: RelayContext): Relay {
  const gpio = cfg.gpio;
  if (!gpio) throw new ProfileError(`device "${cfg.id}": profile ${profile.id} needs a gpio: section`);
  gpioProfileOf(profile);
  const now = ctx.now ?? Date.now;
  const safeState = gpio.safeState === 'on';
  const transport = `gpio ${gpio.line}${gpio.activeLow ? ' active-low' : ''}`;
  const health = newHealth(cfg.id, profile.id, transport);
  const log = ctx.log.child({ device: cfg.id });
  let line: OutputLine | null = null;
  let state: boolean | null = null;
  let chain: Promise<unknown> = Promise.resolve();

  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const result = chain.then(job);
    // The caller gets this job's failure through `result`; the chain only orders the next job after it.
    chain = result.catch(() => undefined);
    return result;
  };

  const ok = () => {
    health.reads++;
    health.state = 'ok';
    health.lastSuccessTs = now();
    health.consecutiveFailures = 0;
    health.lastError = null;
  };

  const failed = (err: unknown): Error => {
    const message = `${transport}: ${errorText(err)}`;
    health.reads++;
    health.failures++;
    health.consecutiveFailures++;
    if (health.state !== 'fault') log.error({ err: message }, 'relay fault');
    health.state = 'fault';
    health.lastError = message;
    return new Error(message, { cause: err });
  };

  const open = async (): Promise<OutputLine> => {
    if (line) return line;
    line = await ctx.gpio.output(gpio.line, { activeLow: gpio.activeLow, initial: safeState });
    state = safeState;
    return line;
  };

  return {
    id: cfg.id,
    capabilities: ['switch'],
    safeState,

    start: () =>
      serial(async () => {
        try {
          await open();
          ok();
          log.info({ transport, safeState: safeState ? 'on' : 'off' }, 'relay ready at its safe state');
        } catch (err) {
          failed(err);
        }
      }),

    set: (on) =>
      serial(async () => {
        try {
          const l = await open();
          if (state !== on) {
            await l.write(on);
            state = on;
            log.info({ on }, on ? 'relay on' : 'relay off');
          }
          ok();
        } catch (err) {
          // The line's level is unknown after a failed write: write it again next time.
          state = null;
          throw failed(err);
        }
      }),

    get: () =>
      serial(async () => {
        if (!line) throw failed(new Error('relay not started'));
        try {
          const on = await line.read();
          ok();
          return on;
        } catch (err) {
          throw failed(err);
        }
      }),

    stop: () =>
      serial(async () => {
        const l = line;
        if (!l) return;
        try {
          // Written even when already there: shutdown is when it must be certain.
          await l.write(safeState);
          state = safeState;
          log.info({ safeState: safeState ? 'on' : 'off' }, 'relay left at its safe state');
        } catch (err) {
          failed(err);
        } finally {
          line = null;
          await l
            .close()
            .catch((err: unknown) =>
              log.debug(
                { err: errorText(err) },
                'relay line close failed; the safe state was already written',
              ),
            );
        }
      }),

    health: () => ({ ...health }),
  };
}
