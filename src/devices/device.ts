import type { QuantityName, QuantityValues } from '../core/quantities.js';
import type { Capability } from './capabilities.js';

/** Every module of the devices (and its callers) words errors the same way. */
export { errorText } from '../core/errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Per-device health, kept by the driver and shown by `powerdeal devices`, the page and the metrics. */
export interface DeviceHealth {
  id: string;
  profile: string;
  /** Human-readable transport, e.g. `tcp 127.0.0.1:5020 unit 1`, `i2c-1 0x40`, `gpio 17`. */
  transport: string;
  state: 'starting' | 'ok' | 'fault';
  lastSuccessTs: number | null;
  consecutiveFailures: number;
  breaker: BreakerState;
  lastError: string | null;
  /** Duration of the last successful read, in ms. */
  latencyMs: number | null;
  reads: number;
  failures: number;
}

/**
 * A readable device: a transport plus a profile. Devices that share a physical bus serialize through
 * their bus worker, so the cycle may call `read()` on every device at once.
 */
export interface Device {
  readonly id: string;
  readonly profileId: string;
  /** The canonical quantities this device's profile maps (known before the first read). */
  readonly quantities: readonly QuantityName[];
  /** What it can do besides being read (capabilities.ts); none when absent. */
  readonly capabilities?: readonly Capability[];
  /** Opens what the device needs. Never throws because the device is unreachable: it degrades instead. */
  start(): Promise<void>;
  /** Reads every quantity the profile maps. Rejects on failure (timeout, exception, NaN, breaker open). */
  read(): Promise<QuantityValues>;
  health(): DeviceHealth;
  stop(): Promise<void>;
}

export function newHealth(id: string, profile: string, transport: string): DeviceHealth {
  return {
    id,
    profile,
    transport,
    state: 'starting',
    lastSuccessTs: null,
    consecutiveFailures: 0,
    breaker: 'closed',
    lastError: null,
    latencyMs: null,
    reads: 0,
    failures: 0,
  };
}
