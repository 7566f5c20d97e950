import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  halfJitterGenerator,
  handleAll,
} from 'cockatiel';
import type { DeviceConfig } from '../../config/schema.js';
import { errorText } from '../../core/errors.js';
import type { QuantityName, QuantityValues } from '../../core/quantities.js';
import type { Logger } from '../../log/logger.js';
import { type Capability, type ExportLimiter, hasCapability } from '../capabilities.js';
import { type BreakerState, type Device, type DeviceHealth, newHealth } from '../device.js';
import type { ProfileFile } from '../profile-file.js';
import type { BusRegistry } from './bus-registry.js';
import { ModbusError } from './errors.js';
import { type RegisterProfile, registerProfileOf } from './profile-schema.js';
import { type ProfileReader, RegisterMapReader } from './register-map-reader.js';
import type { SunspecMap } from './sunspec.js';
import { SunspecReader } from './sunspec-reader.js';
import { describeTransport } from './transport.js';
import { unitIO } from './unit-io.js';

export interface BreakerOptions {
  /** Consecutive failed reads that open the breaker. */
  threshold?: number;
  /** First wait before a half-open probe; grows per failed probe up to halfOpenMaxMs. */
  halfOpenBaseMs?: number;
  halfOpenMaxMs?: number;
}

export interface ModbusDeviceContext {
  buses: BusRegistry;
  log: Logger;
  now?: () => number;
  breaker?: BreakerOptions;
}

export interface ModbusDevice extends Device, ExportLimiter {
  readonly capabilities: readonly Capability[];
  /** Identity read from the device (manufacturer, model, serial...), empty until it answered. */
  info(): Record<string, string>;
  /** The discovered SunSpec model map, for `kind: sunspec` devices that answered. */
  sunspecMap(): SunspecMap | null;
  /**
   * Limits inverter output to `pct` % of its maximum (SunSpec model 123); null lifts the limit. Not
   * behind the read breaker: a command is always tried, and its failure is the caller's to handle.
   * Only a device with the `export-limit` capability has the control; others reject.
   */
  writeExportLimit(pct: number | null): Promise<void>;
}

/** A SunSpec profile that maps the model 123 control can limit the inverter's export. */
export function modbusCapabilities(profile: RegisterProfile): Capability[] {
  return profile.kind === 'sunspec' && profile.exportLimit !== undefined ? ['export-limit'] : [];
}

const BREAKER_STATES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'open',
};

/**
 * A Modbus or SunSpec device: its profile's reader behind a per-device circuit breaker, on the shared
 * worker of its bus. While the breaker is open, `read()` rejects without touching the bus, so a dead
 * unit cannot eat its neighbours' bus time.
 */
export function createModbusDevice(
  cfg: DeviceConfig,
  profile: ProfileFile,
  ctx: ModbusDeviceContext,
): ModbusDevice {
  const modbus = cfg.modbus;
  if (modbus === undefined)
    throw new Error(`device ${cfg.id}: profile ${profile.id} needs a modbus transport`);
  const parsed = registerProfileOf(profile);
  const capabilities = modbusCapabilities(parsed);
  const log = ctx.log.child({ device: cfg.id });
  const now = ctx.now ?? Date.now;
  const bus = ctx.buses.get(modbus);
  const io = unitIO(bus, modbus.unitId, modbus.timeoutMs);
  const sunspec = parsed.kind === 'sunspec' ? new SunspecReader(parsed, log) : null;
  const reader: ProfileReader =
    parsed.kind === 'sunspec' ? (sunspec as SunspecReader) : new RegisterMapReader(parsed);
  const quantities = parsed.points.map((p) => (p.target as { quantity: QuantityName }).quantity);
  const health: DeviceHealth = newHealth(cfg.id, profile.id, describeTransport(modbus));

  const threshold = ctx.breaker?.threshold ?? 3;
  const breaker = circuitBreaker(handleAll, {
    // Half jitter keeps every wait between half and all of its step, so the first probe is never instant.
    halfOpenAfter: new ExponentialBackoff({
      generator: halfJitterGenerator,
      initialDelay: ctx.breaker?.halfOpenBaseMs ?? 1000,
      maxDelay: ctx.breaker?.halfOpenMaxMs ?? 30_000,
    }),
    breaker: new ConsecutiveBreaker(threshold),
  });
  breaker.onStateChange((state) => {
    health.breaker = BREAKER_STATES[state];
    if (state === CircuitState.Open) {
      health.state = 'fault';
      // The device may come back as something else (replaced, reflashed): look again when it answers.
      reader.reset();
      log.warn({ lastError: health.lastError }, 'modbus device faulted: breaker open');
    } else if (state === CircuitState.Closed) {
      log.info('modbus device recovered: breaker closed');
    }
  });
  let stopped = false;

  return {
    id: cfg.id,
    profileId: profile.id,
    quantities,
    capabilities,

    async start() {
      stopped = false;
      log.debug({ transport: health.transport }, 'modbus device started');
    },

    async read(): Promise<QuantityValues> {
      if (stopped) throw new ModbusError('connection', `${cfg.id} is stopped`);
      const started = now();
      try {
        const values = await breaker.execute(async () => {
          const v = await reader.read(io);
          // Every mapped value "not implemented" is a device with a failed measurement, not a reading.
          if (Object.keys(v).length === 0) {
            throw new ModbusError(
              'value',
              `${cfg.id}: no value for ${quantities.join(', ')} (not implemented)`,
            );
          }
          return v;
        });
        health.reads++;
        health.state = 'ok';
        health.lastSuccessTs = now();
        health.latencyMs = health.lastSuccessTs - started;
        health.consecutiveFailures = 0;
        health.lastError = null;
        return values;
      } catch (err) {
        health.reads++;
        health.failures++;
        health.consecutiveFailures++;
        if (err instanceof BrokenCircuitError) {
          throw new ModbusError(
            'connection',
            `${cfg.id}: breaker open after ${threshold} failed reads (last: ${health.lastError ?? 'unknown'})`,
          );
        }
        health.lastError = errorText(err);
        throw err;
      }
    },

    health(): DeviceHealth {
      return { ...health };
    },

    async stop() {
      stopped = true;
    },

    info() {
      return reader.info();
    },

    sunspecMap() {
      return sunspec?.map() ?? null;
    },

    async writeExportLimit(pct: number | null) {
      if (sunspec === null || !hasCapability({ capabilities }, 'export-limit')) {
        throw new Error(`${cfg.id}: profile ${profile.id} maps no SunSpec export limit control (model 123)`);
      }
      await sunspec.writeExportLimit(io, pct);
      log.info({ pct }, pct === null ? 'export limit lifted' : 'export limit written');
    },
  };
}
