import { afterEach, describe, expect, it } from 'vitest';
import { BusRegistry } from '../../src/devices/modbus/bus-registry.js';
import { encodeRegisters } from '../../src/devices/modbus/codec.js';
import { createModbusDevice, type ModbusDevice } from '../../src/devices/modbus/device.js';
import { silentLogger } from '../../src/log/logger.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { type SocatLink, startPtyPair } from '../helpers/socat.js';
import { deviceConfig, profile } from './helpers/devices.js';
import { type PymodbusPeer, startPymodbus } from './helpers/pymodbus.js';
import { type RawHandler, startRawServer } from './helpers/raw-server.js';

/** Dead units, killed servers and changed devices: the breaker, the shared bus and rediscovery. */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function registry(opts: ConstructorParameters<typeof BusRegistry>[0] = {}): BusRegistry {
  const buses = new BusRegistry(opts);
  cleanups.push(() => buses.closeAll());
  return buses;
}

async function peerOnPty(): Promise<{ peer: PymodbusPeer; path: string }> {
  const pty: SocatLink = await startPtyPair();
  cleanups.push(() => pty.close());
  const peer = await startPymodbus({ serial: pty.b as string });
  cleanups.push(() => peer.stop());
  return { peer, path: pty.a };
}

const meterValues = (m: PymodbusPeer['expected']['meter']) => ({
  gridVoltageV: m.gridVoltageV,
  gridPowerW: m.gridPowerW,
  gridFrequencyHz: Math.fround(m.gridFrequencyHz),
  gridImportWh: m.gridImportWh,
  gridExportWh: m.gridExportWh,
});

describe('device recovery', () => {
  it('turns fault within 3 reads of a killed server, then recovers and rediscovers its map', async () => {
    const port = await freePort();
    let peer = await startPymodbus({ tcp: port }, 40000);
    cleanups.push(() => peer.stop());
    const buses = registry({ reconnectBaseMs: 100, reconnectMaxMs: 400 });
    const inverter = createModbusDevice(
      deviceConfig('inverter', 'sunspec-inverter', { tcp: `127.0.0.1:${port}`, unitId: 1, timeoutMs: 500 }),
      profile('sunspec-inverter'),
      { buses, log: silentLogger(), breaker: { threshold: 3, halfOpenBaseMs: 1000, halfOpenMaxMs: 2000 } },
    );
    await inverter.start();
    expect(await inverter.read()).toEqual({ pvPowerW: 1234.5, pvEnergyWh: 12345670 });
    expect(inverter.sunspecMap()?.base).toBe(40000);

    await peer.stop(); // SIGKILL
    let reads = 0;
    while (inverter.health().state !== 'fault' && reads < 10) {
      reads++;
      // These reads are meant to fail: the health they leave behind is what is checked.
      await inverter.read().catch(() => undefined);
    }
    expect(reads).toBeLessThanOrEqual(3);
    expect(inverter.health()).toMatchObject({ state: 'fault', breaker: 'open', consecutiveFailures: reads });

    // While open, a read fails at once and never reaches the bus.
    const before = buses.stats()[0];
    await expect(inverter.read()).rejects.toThrow(/breaker open after 3 failed reads/);
    expect(buses.stats()[0]).toMatchObject({
      requests: before?.requests,
      openFailures: before?.openFailures,
    });

    // The device comes back as a different map (SunS now at 50000): the reader must look again.
    peer = await startPymodbus({ tcp: port }, 50000);
    const values = await waitFor(() => inverter.read().catch(() => null), 20_000, 'recovery', 100);
    expect(values).toEqual({ pvPowerW: 1234.5, pvEnergyWh: 12345670 });
    expect(inverter.sunspecMap()?.base).toBe(50000);
    expect(inverter.health()).toMatchObject({
      state: 'ok',
      breaker: 'closed',
      consecutiveFailures: 0,
      lastError: null,
    });
  });
});

describe('a shared RTU bus', () => {
  it('a unit that never answers costs its neighbour 3 timeouts, then nothing', async () => {
    const { peer, path } = await peerOnPty();
    const buses = registry();
    const ctx = { buses, log: silentLogger(), breaker: { threshold: 3, halfOpenBaseMs: 600_000 } };
    const neighbour = createModbusDevice(
      deviceConfig('meter', 'sdm630', { rtu: path, unitId: 2, timeoutMs: 1000 }),
      profile('sdm630'),
      ctx,
    );
    // Unit 9 is not on the line: pymodbus stays silent for it, like a dead meter.
    const dead = createModbusDevice(
      deviceConfig('dead', 'sdm630', { rtu: path, unitId: 9, timeoutMs: 300 }),
      profile('sdm630'),
      ctx,
    );

    // Every neighbour read has a dead read queued beside it on the same line (failing, as it should).
    const expected = meterValues(peer.expected.meter);
    for (let i = 0; i < 60; i++) {
      const [values] = await Promise.all([neighbour.read(), dead.read().catch(() => undefined)]);
      expect(values).toEqual(expected);
    }

    const bus = buses.stats()[0];
    expect(neighbour.health()).toMatchObject({ reads: 60, failures: 0, state: 'ok' });
    expect(dead.health()).toMatchObject({ state: 'fault', breaker: 'open' });
    // The dead unit kept being asked for readings, but only the first 3 reached the line.
    expect(dead.health().reads).toBe(60);
    expect(bus?.units[9]).toEqual({ requests: 3, failures: 3, timeouts: 3 });
    expect(bus?.units[2]?.failures).toBe(0);
  });

  it('three units with distinct images polled hard and concurrently each get only their own values', async () => {
    const { peer, path } = await peerOnPty();
    const buses = registry();
    const make = (id: string, prof: string, unitId: number): ModbusDevice =>
      createModbusDevice(deviceConfig(id, prof, { rtu: path, unitId, timeoutMs: 1000 }), profile(prof), {
        buses,
        log: silentLogger(),
      });
    const jobs: Array<[ModbusDevice, object]> = [
      [make('meter-a', 'sdm630', 2), meterValues(peer.expected.meter)],
      [make('meter-b', 'sdm630', 3), meterValues(peer.expected.meter2)],
      [make('inverter', 'sunspec-inverter', 1), { pvPowerW: 1234.5, pvEnergyWh: 12345670 }],
    ];
    await Promise.all(
      jobs.flatMap(([device, expected]) =>
        [0, 1].map(async () => {
          for (let i = 0; i < 20; i++) expect(await device.read()).toEqual(expected);
        }),
      ),
    );
    for (const [device] of jobs) expect(device.health()).toMatchObject({ reads: 40, failures: 0 });
    expect(buses.stats()).toHaveLength(1);
  });
});

describe('SunSpec map changes', () => {
  /** A SunSpec image at 40000 whose inverter model can be swapped (firmware update, replaced unit). */
  function sunspecImage(inverterModel: 101 | 103, watts: number): number[] {
    const common = [...encodeRegisters('Acme', 'string', { length: 16 }), ...new Array(49).fill(0)];
    const inverter = new Array(50).fill(0);
    inverter[12] = watts; // W (offset 14 from the ID register)
    inverter[13] = 0; // W_SF
    inverter.splice(22, 2, ...encodeRegisters(777, 'acc32')); // WH
    return [0x5375, 0x6e53, 1, 65, ...common, inverterModel, 50, ...inverter, 0xffff, 0];
  }

  it('a device that answers but has no marker gets an error naming each address and what it held', async () => {
    const srv = await startRawServer('mbap', (req) => ({ registers: new Array(req.count).fill(0) }));
    cleanups.push(() => srv.close());
    const inverter = createModbusDevice(
      deviceConfig('inverter', 'sunspec-inverter', { tcp: `127.0.0.1:${srv.port}`, unitId: 1 }),
      profile('sunspec-inverter'),
      { buses: registry(), log: silentLogger() },
    );
    await expect(inverter.read()).rejects.toThrow(
      'no SunSpec marker "SunS" (0x5375 0x6E53) at 40000, 0, 50000 (40000: 0x0000 0x0000; 0: 0x0000 0x0000; 50000: 0x0000 0x0000)',
    );
    expect(srv.requests.map((r) => r.address)).toEqual([40000, 0, 50000]);
  });

  it('notices a changed model at a known address, fails that read, and rediscovers on the next', async () => {
    let image = sunspecImage(103, 1500);
    const handler: RawHandler = (req) => {
      const from = req.address - 40000;
      if (req.fc !== 3 || from < 0 || from + req.count > image.length) return { exception: 2 };
      return { registers: image.slice(from, from + req.count) };
    };
    const srv = await startRawServer('mbap', handler);
    cleanups.push(() => srv.close());
    const buses = registry();
    const inverter = createModbusDevice(
      deviceConfig('inverter', 'sunspec-inverter', { tcp: `127.0.0.1:${srv.port}`, unitId: 1 }),
      profile('sunspec-inverter'),
      { buses, log: silentLogger() },
    );
    expect(await inverter.read()).toEqual({ pvPowerW: 1500, pvEnergyWh: 777 });
    expect(inverter.sunspecMap()?.models.map((m) => m.id)).toEqual([1, 103]);

    image = sunspecImage(101, 900);
    await expect(inverter.read()).rejects.toThrow(/SunSpec map changed: expected model 103/);
    expect(await inverter.read()).toEqual({ pvPowerW: 900, pvEnergyWh: 777 });
    expect(inverter.sunspecMap()?.models.map((m) => m.id)).toEqual([1, 101]);
    expect(inverter.info()).toEqual({ manufacturer: 'Acme' });
  });
});
