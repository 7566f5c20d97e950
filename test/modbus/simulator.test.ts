import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModbusConfig } from '../../src/config/schema.js';
import { BusRegistry } from '../../src/devices/modbus/bus-registry.js';
import { createModbusDevice, type ModbusDevice } from '../../src/devices/modbus/device.js';
import { ModbusError } from '../../src/devices/modbus/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { type SocatLink, startPtyPair } from '../helpers/socat.js';
import { deviceConfig, profile } from './helpers/devices.js';

/** The reader against the project's simulator, over all three transports, with a frozen clock. */

const T0 = Date.UTC(2026, 5, 21, 10, 0, 0);

interface Rig {
  sim: Simulator;
  transport: Partial<ModbusConfig>;
  close(): Promise<void>;
}

const rigs: Record<string, () => Promise<Rig>> = {
  'Modbus TCP': async () => {
    const sim = await startSimulator({ tcp: { port: 0 }, clock: () => T0 });
    return { sim, transport: { tcp: `127.0.0.1:${sim.tcpPort}` }, close: () => sim.stop() };
  },
  'RTU on a pty pair': async () => {
    const pty: SocatLink = await startPtyPair();
    try {
      const sim = await startSimulator({ rtu: { path: pty.b as string }, clock: () => T0 });
      return {
        sim,
        transport: { rtu: pty.a },
        close: async () => {
          await sim.stop();
          await pty.close();
        },
      };
    } catch (err) {
      await pty.close();
      throw err;
    }
  },
  'RTU over TCP (gateway)': async () => {
    const sim = await startSimulator({ rtuOverTcp: { port: 0 }, clock: () => T0 });
    return { sim, transport: { rtuOverTcp: `127.0.0.1:${sim.rtuOverTcpPort}` }, close: () => sim.stop() };
  },
};

describe.each(Object.keys(rigs))('simulator over %s', (name) => {
  let rig: Rig;
  let buses: BusRegistry;
  let inverter: ModbusDevice;
  let meter: ModbusDevice;

  beforeAll(async () => {
    rig = await (rigs[name] as () => Promise<Rig>)();
    buses = new BusRegistry();
    const make = (id: string, prof: string, unitId: number) =>
      createModbusDevice(
        deviceConfig(id, prof, { ...rig.transport, unitId, timeoutMs: 500 }),
        profile(prof),
        { buses, log: silentLogger(), breaker: { threshold: 100 } },
      );
    inverter = make('inverter', 'sunspec-inverter', 1);
    meter = make('meter', 'sdm630', 2);
    await inverter.start();
    await meter.start();
  });
  afterAll(async () => {
    await buses?.closeAll();
    await rig?.close();
  });

  const meterTruth = () => {
    const t = rig.sim.truth();
    return {
      gridPowerW: t.gridPowerW,
      gridImportWh: t.gridImportWh,
      gridExportWh: t.gridExportWh,
      gridVoltageV: t.gridVoltageV,
      gridFrequencyHz: t.gridFrequencyHz,
    };
  };

  it('reads exactly what the simulator holds, export and import signs included', async () => {
    rig.sim.pin({ pvPowerW: 3000, loadPowerW: 1200 });
    expect(await inverter.read()).toEqual({ pvPowerW: 3000, pvEnergyWh: rig.sim.truth().pvEnergyWh });
    const exporting = await meter.read();
    expect(exporting).toEqual(meterTruth());
    expect(exporting.gridPowerW).toBe(-1800);

    rig.sim.pin({ pvPowerW: 500, loadPowerW: 1800 });
    const importing = await meter.read();
    expect(importing).toEqual(meterTruth());
    expect(importing.gridPowerW).toBe(1300);
    expect(inverter.info()).toMatchObject({ manufacturer: 'Powerdeal', model: 'PD-SIM-3P' });
  });

  it('two units polled hard and concurrently never get each other’s registers', async () => {
    rig.sim.pin({ pvPowerW: 2500, loadPowerW: 900 });
    const inv = { pvPowerW: 2500, pvEnergyWh: rig.sim.truth().pvEnergyWh };
    const met = meterTruth();
    const poll = async (device: ModbusDevice, expected: object) => {
      for (let i = 0; i < 15; i++) expect(await device.read()).toEqual(expected);
    };
    await Promise.all([poll(inverter, inv), poll(meter, met), poll(inverter, inv), poll(meter, met)]);
    expect(inverter.health()).toMatchObject({ failures: 0, state: 'ok' });
    expect(meter.health()).toMatchObject({ failures: 0, state: 'ok' });
  });

  it('writes the export limit into model 123 and lifts it again', async () => {
    rig.sim.pin({ pvPowerW: 4000, loadPowerW: 500 });
    await inverter.writeExportLimit(40);
    expect(rig.sim.exportLimitPct()).toBe(40);
    // 40 % of the simulated 5 kWp array.
    expect((await inverter.read()).pvPowerW).toBe(2000);
    await inverter.writeExportLimit(12.5);
    expect(rig.sim.exportLimitPct()).toBe(12.5);
    await inverter.writeExportLimit(null);
    expect(rig.sim.exportLimitPct()).toBeNull();
    expect((await inverter.read()).pvPowerW).toBe(4000);
    await expect(inverter.writeExportLimit(150)).rejects.toThrow(/0\.\.100/);
  });

  it.each([
    ['nan', 'value', /NaN/],
    ['exception', 'exception', /exception 4/],
    ['garbage', 'frame', /malformed/],
    ['truncated', 'timeout', /timed out/],
    ['silence', 'timeout', /timed out/],
  ] as const)(
    'meter fault %s fails the read as a %s error, then it reads again',
    async (fault, kind, message) => {
      rig.sim.setFault(2, fault);
      const err = await meter.read().catch((e: unknown) => e);
      rig.sim.setFault(2, 'none');
      expect(err).toBeInstanceOf(ModbusError);
      expect(err).toMatchObject({ kind });
      expect((err as Error).message).toMatch(message);
      expect(meter.health().lastError).toMatch(message);
      expect(await meter.read()).toEqual(meterTruth());
    },
  );

  it('an inverter reporting every value "not implemented" is a failed read, not an empty one', async () => {
    rig.sim.setFault(1, 'nan');
    const err = await inverter.read().catch((e: unknown) => e);
    rig.sim.setFault(1, 'none');
    expect(err).toMatchObject({ kind: 'value' });
    expect((err as Error).message).toMatch(/no value for pvPowerW, pvEnergyWh/);
  });

  it('a unit without a SunSpec marker gives an error naming every base tried', async () => {
    const notSunspec = createModbusDevice(
      deviceConfig('wrong', 'sunspec-inverter', { ...rig.transport, unitId: 2, timeoutMs: 500 }),
      profile('sunspec-inverter'),
      { buses, log: silentLogger() },
    );
    const err = await notSunspec.read().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/no SunSpec marker "SunS".* at 40000, 0, 50000/);
    expect((err as Error).message).toMatch(/40000: exception 2 .*0: exception 2 .*50000: exception 2/);
  });
});
