import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type GpioBackend, GpioError } from './backend.js';
import { DEFAULT_SYSFS_GPIO } from './chip-base.js';
import { FakeGpioBackend } from './fake-backend.js';
import { createSysfsGpioBackend, type OnoffGpioClass } from './sysfs-backend.js';

export interface GpioBackendOptions {
  /** true: in-memory lines; false: sysfs or an error saying why not; unset: sysfs when it is usable. */
  simulated?: boolean;
  sysfsRoot?: string;
}

const require = createRequire(import.meta.url);

/**
 * Picks the GPIO backend. onoff (and its native epoll module) is loaded only when hardware is wanted,
 * so a simulated service runs where it was never built. Unset `simulated` follows `Gpio.accessible`
 * (can this process export lines?); the composition root should say "simulated" in the status when it
 * ends up with the fake, since a simulated relay switches nothing.
 */
export function createGpioBackend(opts: GpioBackendOptions = {}): GpioBackend {
  if (opts.simulated === true) return new FakeGpioBackend();
  const { Gpio } = require('onoff') as typeof import('onoff');
  if (!Gpio.accessible) {
    if (opts.simulated === undefined) return new FakeGpioBackend();
    throw gpioUnavailable(opts.sysfsRoot ?? DEFAULT_SYSFS_GPIO);
  }
  return createSysfsGpioBackend({ Gpio: Gpio as OnoffGpioClass, sysfsRoot: opts.sysfsRoot });
}

/** Why sysfs GPIO cannot be used here, with what to do about it. */
export function gpioUnavailable(sysfsRoot = DEFAULT_SYSFS_GPIO): GpioError {
  const exportFile = `${sysfsRoot}/export`;
  if (!existsSync(exportFile)) {
    return new GpioError(
      `no sysfs GPIO on this machine (${exportFile} does not exist): this is not a Raspberry Pi, or the kernel lacks CONFIG_GPIO_SYSFS`,
      'no-gpio',
    );
  }
  try {
    accessSync(exportFile, constants.W_OK);
  } catch {
    return new GpioError(`${exportFile} is not writable: add the user to the gpio group`, 'permission');
  }
  return new GpioError(`${exportFile} cannot be opened`, 'no-gpio');
}
