import type { Config, ModbusConfig } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import type { GpioBackend } from '../devices/gpio/backend.js';
import type { Relay } from '../devices/gpio/relay.js';
import type { I2cBusRegistry } from '../devices/i2c/registry.js';
import { scanI2c } from '../devices/i2c/scan.js';
import {
  dumpSunspec,
  type ReadTable,
  readTable,
  type ScanHit,
  type SunspecDump,
  scanUnits,
} from '../devices/modbus/tools.js';
import { busAddress } from '../devices/modbus/transport.js';
import type { ExtensionHardware } from '../views/extension.js';
import { ControlError } from './protocol.js';

export interface ModbusReadRequest {
  transport: ModbusConfig;
  table: ReadTable;
  address: number;
  count: number;
}

export interface ModbusScanRequest {
  transport: ModbusConfig;
  from: number;
  to: number;
  probe: { table: 'holding' | 'input'; address: number };
  timeoutMs: number;
}

export interface GpioSetResult {
  line: number;
  on: boolean;
  level: 'high' | 'low';
  activeLow: boolean;
  simulated: boolean;
  /** The configured relay on that line, switched through its driver. */
  relay: string | null;
}

/**
 * The field tools run inside the service, on the service's own bus workers, so a technician's request
 * queues behind the cycle's reads instead of opening the bus a second time.
 */
export class DaemonHardwareTools {
  constructor(
    private readonly config: Config,
    private readonly hw: ExtensionHardware,
  ) {}

  async modbusRead(r: ModbusReadRequest): Promise<number[] | boolean[]> {
    return readTable(
      this.bus(r.transport),
      r.transport.unitId,
      r.table,
      r.address,
      r.count,
      r.transport.timeoutMs,
    );
  }

  async modbusScan(r: ModbusScanRequest): Promise<ScanHit[]> {
    return scanUnits(this.bus(r.transport), r.from, r.to, r.probe, r.timeoutMs);
  }

  async sunspec(transport: ModbusConfig): Promise<SunspecDump> {
    return dumpSunspec(this.bus(transport), transport.unitId, transport.timeoutMs);
  }

  async i2cScan(bus: number): Promise<{ addresses: number[]; simulated: boolean }> {
    const registry = this.i2cRegistry();
    return { addresses: await scanI2c(registry.bus(bus)), simulated: registry.simulated };
  }

  async gpioGet(line: number) {
    const gpio = this.gpio();
    const relay = this.relayOn(line);
    const state = await gpio.inspect(line);
    return {
      line,
      sysfsNumber: state.sysfsNumber,
      direction: state.direction,
      level: state.high ? ('high' as const) : ('low' as const),
      simulated: gpio.simulated,
      relay: relay?.id ?? null,
      /** The relay's configured active-low setting, which `gpio set` then uses; null without a relay. */
      activeLow: relay ? this.relayActiveLow(relay) : null,
    };
  }

  /** A configured relay is switched through its driver (its own active-low setting applies). */
  async gpioSet(line: number, on: boolean, activeLow: boolean): Promise<GpioSetResult> {
    const gpio = this.gpio();
    const relay = this.relayOn(line);
    if (relay) {
      const relayActiveLow = this.relayActiveLow(relay);
      await relay.set(on);
      return {
        line,
        on,
        level: on !== relayActiveLow ? 'high' : 'low',
        activeLow: relayActiveLow,
        simulated: gpio.simulated,
        relay: relay.id,
      };
    }
    const output = await gpio.output(line, { activeLow, initial: on });
    try {
      await output.write(on);
    } finally {
      await output.close();
    }
    return {
      line,
      on,
      level: on !== activeLow ? 'high' : 'low',
      activeLow,
      simulated: gpio.simulated,
      relay: null,
    };
  }

  private bus(transport: ModbusConfig) {
    try {
      busAddress(transport);
    } catch (err) {
      throw new ControlError(errorText(err), 'usage');
    }
    return this.hw.buses.get(transport);
  }

  private i2cRegistry(): I2cBusRegistry {
    return this.hw.i2c;
  }

  private gpio(): GpioBackend {
    return this.hw.gpio;
  }

  private relayActiveLow(relay: Relay): boolean {
    return this.config.devices.find((d) => d.id === relay.id)?.gpio?.activeLow ?? false;
  }

  private relayOn(line: number): Relay | undefined {
    const id = this.config.devices.find((d) => d.enabled && d.gpio?.line === line)?.id;
    return id === undefined ? undefined : this.hw.relays.find((r) => r.id === id);
  }
}
