import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusRegistry } from '../../src/devices/modbus/bus-registry.js';
import { createModbusDevice } from '../../src/devices/modbus/device.js';
import { dumpSunspec } from '../../src/devices/modbus/tools.js';
import { silentLogger } from '../../src/log/logger.js';
import { freePort } from '../helpers/ports.js';
import { type SocatLink, startPtyPair } from '../helpers/socat.js';
import { deviceConfig, profile } from './helpers/devices.js';
import { type PymodbusPeer, startPymodbus } from './helpers/pymodbus.js';

/**
 * The reader against an independent implementation: pymodbus serving hand-encoded SunSpec and SDM630
 * images, over Modbus TCP and over RTU on a real pty pair.
 */

type Transport = { tcp: string } | { rtu: string };

function checkAgainstPeer(
  name: string,
  setup: () => Promise<{ peer: PymodbusPeer; transport: Transport; close(): Promise<void> }>,
) {
  describe(`pymodbus peer over ${name}`, () => {
    let peer: PymodbusPeer;
    let transport: Transport;
    let close: () => Promise<void>;
    const buses = new BusRegistry();

    beforeAll(async () => {
      ({ peer, transport, close } = await setup());
    });
    afterAll(async () => {
      await buses.closeAll();
      await close?.();
    });

    it('reads the SunSpec inverter: discovery, identity, scaled values', async () => {
      const inv = createModbusDevice(
        deviceConfig('inverter', 'sunspec-inverter', { ...transport, unitId: 1, timeoutMs: 2000 }),
        profile('sunspec-inverter'),
        { buses, log: silentLogger() },
      );
      await inv.start();
      const values = await inv.read();
      expect(values).toEqual({ pvPowerW: 1234.5, pvEnergyWh: 12345670 });
      expect(values.pvPowerW).toBe(peer.expected.inverter.pvPowerW);
      expect(inv.info()).toEqual({
        manufacturer: 'PeerSolar',
        model: 'PS-3P-8K',
        version: '2.7.1',
        serial: 'PS0042',
      });
      expect(inv.sunspecMap()).toEqual({
        base: 40000,
        models: [
          { id: 1, address: 40002, length: 66 },
          { id: 103, address: 40070, length: 50 },
          { id: 123, address: 40122, length: 24 },
        ],
      });
      expect(inv.health()).toMatchObject({ state: 'ok', breaker: 'closed', reads: 1, failures: 0 });
    });

    it('reads two SDM630 meters with exact canonical values, units and signs', async () => {
      const meter = createModbusDevice(
        deviceConfig('grid', 'sdm630', { ...transport, unitId: 2, timeoutMs: 2000 }),
        profile('sdm630'),
        { buses, log: silentLogger() },
      );
      const meter2 = createModbusDevice(
        deviceConfig('sub', 'sdm630', { ...transport, unitId: 3, timeoutMs: 2000 }),
        profile('sdm630'),
        { buses, log: silentLogger() },
      );
      const e = peer.expected;
      // Export is negative, import positive; kWh registers become Wh.
      expect(await meter.read()).toEqual({
        gridVoltageV: 231.5,
        gridPowerW: -1500.5,
        gridFrequencyHz: Math.fround(49.98),
        gridImportWh: 12345500,
        gridExportWh: 6789250,
      });
      expect(await meter2.read()).toEqual({
        gridVoltageV: e.meter2.gridVoltageV,
        gridPowerW: e.meter2.gridPowerW,
        gridFrequencyHz: e.meter2.gridFrequencyHz,
        gridImportWh: e.meter2.gridImportWh,
        gridExportWh: e.meter2.gridExportWh,
      });
      expect(meter.info()).toEqual({ serial: String(e.meter.serial) });
      expect(meter2.info()).toEqual({ serial: String(e.meter2.serial) });
    });

    it('dumps every model with decoded, scaled points', async () => {
      const bus = buses.get(deviceConfig('x', 'sdm630', { ...transport, unitId: 1 }).modbus!);
      const dump = await dumpSunspec(bus, 1, 2000);
      expect(dump.base).toBe(40000);
      expect(dump.models.map((m) => m.id)).toEqual([1, 103, 123]);
      const point = (model: number, name: string) =>
        dump.models.find((m) => m.id === model)?.points?.find((p) => p.name === name)?.value;
      expect(point(1, 'Mn')).toBe('PeerSolar');
      expect(point(1, 'DA')).toBe(1);
      expect(point(103, 'PhVphA')).toBe(peer.expected.inverter.phaseVoltageV);
      expect(point(103, 'Hz')).toBe(peer.expected.inverter.frequencyHz);
      expect(point(103, 'W')).toBe(1234.5);
      expect(point(103, 'VAr')).toBeNull();
      expect(point(103, 'St')).toBe(4);
      expect(point(123, 'WMaxLimPct')).toBe(peer.expected.inverter.wMaxLimPct);
    });
  });
}

checkAgainstPeer('Modbus TCP', async () => {
  const port = await freePort();
  const peer = await startPymodbus({ tcp: port });
  return { peer, transport: { tcp: `127.0.0.1:${port}` }, close: () => peer.stop() };
});

checkAgainstPeer('RTU on a pty pair', async () => {
  const pty: SocatLink = await startPtyPair();
  try {
    const peer = await startPymodbus({ serial: pty.b as string });
    return {
      peer,
      transport: { rtu: pty.a },
      close: async () => {
        await peer.stop();
        await pty.close();
      },
    };
  } catch (err) {
    await pty.close();
    throw err;
  }
});

describe('SunSpec marker at the other bases', () => {
  const buses = new BusRegistry();
  let stopPeer: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await buses.closeAll();
    await stopPeer?.();
  });

  it.each([0, 50000] as const)('finds SunS at %i after exceptions at the bases before it', async (base) => {
    await stopPeer?.();
    const port = await freePort();
    const peer = await startPymodbus({ tcp: port }, base);
    stopPeer = peer.stop;
    const inv = createModbusDevice(
      deviceConfig(`inv-${base}`, 'sunspec-inverter', {
        tcp: `127.0.0.1:${port}`,
        unitId: 1,
        timeoutMs: 2000,
      }),
      profile('sunspec-inverter'),
      { buses, log: silentLogger() },
    );
    expect(await inv.read()).toEqual({ pvPowerW: 1234.5, pvEnergyWh: 12345670 });
    expect(inv.sunspecMap()?.base).toBe(base);
  });
});
