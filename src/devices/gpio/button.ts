import { EventEmitter } from 'node:events';
import type { GpioBackend } from './backend.js';

export const LONG_PRESS_MS = 3000;

export interface ButtonEvents {
  /** Pressed and released within LONG_PRESS_MS: the service logs one status line. */
  press: [];
  /** Held for LONG_PRESS_MS (fires while still held, once): reserved, logged only for now. */
  longPress: [];
}

export interface TechnicianButton extends EventEmitter<ButtonEvents> {
  stop(): Promise<void>;
}

/**
 * The technician button on `panel.button`: a push button to GND with a pull-up, so `activeLow: true`.
 * Debounced by the backend; a press is reported on release, a long press as soon as it has been held
 * for `longPressMs`, and the release after a long press is not also a press. A button held down at
 * start is ignored until it is released.
 */
export async function createButton(
  gpio: GpioBackend,
  cfg: { line: number; activeLow: boolean; debounceMs: number },
  opts: { longPressMs?: number } = {},
): Promise<TechnicianButton> {
  const longPressMs = opts.longPressMs ?? LONG_PRESS_MS;
  const input = await gpio.input(cfg.line, {
    activeLow: cfg.activeLow,
    edge: 'both',
    debounceMs: cfg.debounceMs,
  });
  const emitter = new EventEmitter<ButtonEvents>() as TechnicianButton;
  let down = false;
  let longFired = false;
  let holdTimer: NodeJS.Timeout | undefined;

  input.watch((pressed) => {
    if (pressed) {
      down = true;
      longFired = false;
      holdTimer = setTimeout(() => {
        longFired = true;
        emitter.emit('longPress');
      }, longPressMs);
      holdTimer.unref();
      return;
    }
    clearTimeout(holdTimer);
    if (down && !longFired) emitter.emit('press');
    down = false;
  });

  emitter.stop = async () => {
    clearTimeout(holdTimer);
    emitter.removeAllListeners();
    await input.close();
  };
  return emitter;
}
