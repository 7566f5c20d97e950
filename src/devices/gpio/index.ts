/** The GPIO side of the devices: backends, the relay actuator and the front-panel parts. */
export type {
  Edge,
  GpioBackend,
  InputLine,
  InputOptions,
  LineState,
  OutputLine,
  OutputOptions,
} from './backend.js';
export { GpioError } from './backend.js';
export { createButton, LONG_PRESS_MS, type TechnicianButton } from './button.js';
export { findHeaderChip, type GpioChipInfo, HEADER_CHIP_LABELS, sysfsNumber } from './chip-base.js';
export { createGpioBackend, type GpioBackendOptions, gpioUnavailable } from './create-backend.js';
export { FakeGpioBackend } from './fake-backend.js';
export { createRelay, type Relay, type RelayContext } from './relay.js';
export { createStatusLed, LED_PATTERNS, type LedPattern, type StatusLed } from './status-led.js';
