import type { QuantityName, QuantityValues } from '../core/quantities.js';

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
  /** Opens what the device needs. Never throws because the device is unreachable: it degrades instead. */
  start(): Promise<void>;
  /** Reads every quantity the profile maps. Rejects on failure (timeout, exception, NaN, breaker open). */
  read(): Promise<QuantityValues>;
  health(): DeviceHealth;
  stop(): Promise<void>;
}

/** A switchable output (a relay driving a flexible load). */
export interface Actuator {
  readonly id: string;
  /** Drives the output; resolves once the line has been written. */
  set(on: boolean): Promise<void>;
  get(): Promise<boolean>;
  /** The documented safe state, applied at start and at shutdown. */
  readonly safeState: boolean;
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

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
