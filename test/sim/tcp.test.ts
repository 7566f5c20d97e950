import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { ascii, float32, mbpoll, readWords, s16, u32 } from './helpers/mbpoll.js';

const NOON = Date.UTC(2024, 5, 21, 12, 0, 0);
const clock = { now: NOON };
let sim: Simulator;

const tcp = (unit: number, timeoutS = '2') => [
  '-m',
  'tcp',
  '-p',
  String(sim.tcpPort),
  '-a',
  String(unit),
  '-o',
  timeoutS,
];
const at = (args: string[]) => [...args, '127.0.0.1'];

beforeAll(async () => {
  sim = await startSimulator({ tcp: { port: 0 }, clock: () => clock.now, utcOffsetMin: 0, seed: 11 });
});
afterAll(async () => {
  await sim?.stop();
});
afterEach(() => {
  clock.now = NOON;
  sim.setFault('all', 'none');
  sim.unpin();
});

describe('SunSpec inverter over Modbus TCP (read by mbpoll)', () => {
  it('has the SunS marker at 40000 and the model chain 1, 103, 123, end', async () => {
    expect(ascii(await readWords(at(tcp(1)), 'holding', 40000, 2))).toBe('SunS');
    const models: Array<[number, number, number]> = [];
    let address = 40002;
    for (let i = 0; i < 10; i++) {
      const [id = 0, length = 0] = await readWords(at(tcp(1)), 'holding', address, 2);
      if (id === 0xffff) break;
      models.push([address, id, length]);
      address += 2 + length;
    }
    expect(models).toEqual([
      [40002, 1, 65],
      [40069, 103, 50],
      [40121, 123, 24],
    ]);
    expect(address).toBe(40147);
    for (const outside of [39999, 40148]) {
      const r = await mbpoll(at([...tcp(1), '-0', '-t', '4:hex', '-r', String(outside), '-c', '2']));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Illegal data address/);
    }
  });

  it('names itself in model 1 and reports the true power and energy in model 103', async () => {
    const common = await readWords(at(tcp(1)), 'holding', 40004, 65);
    expect(ascii(common.slice(0, 16))).toBe('Powerdeal');
    expect(ascii(common.slice(48, 64))).toMatch(/^PDSIM-[0-9a-f]{8}$/);
    expect(common[64]).toBe(1);

    const truth = sim.truth();
    expect(truth.pvPowerW).toBeGreaterThan(0);
    const m = await readWords(at(tcp(1)), 'holding', 40071, 50);
    const sf = (i: number) => 10 ** s16(m[i] ?? 0);
    expect(s16(m[12] ?? 0) * sf(13)).toBe(truth.pvPowerW);
    expect(u32(m, 22) * sf(24)).toBe(truth.pvEnergyWh);
    expect((m[14] ?? 0) * sf(15)).toBeCloseTo(truth.gridFrequencyHz, 2);
    expect(Math.abs((m[8] ?? 0) * sf(11) - truth.gridVoltageV)).toBeLessThan(0.06);
    expect(m[36]).toBe(4); // MPPT
  });

  it('takes an export limit written to model 123, caps PV with it, and reverts it on time', async () => {
    sim.pin({ pvPowerW: 3000, loadPowerW: 500 });
    expect(sim.exportLimitPct()).toBeNull();
    // WMaxLimPct = 40.00 % (SF -2), WinTms, RvrtTms, RmpTms, WMaxLim_Ena = 1.
    const write = await mbpoll(
      at([...tcp(1), '-0', '-t', '4', '-r', '40126']).concat(['4000', '0', '0', '0', '1']),
    );
    expect(write.code, write.stderr).toBe(0);
    expect(sim.exportLimitPct()).toBe(40);
    expect(sim.truth().pvPowerW).toBe(2000); // 40 % of 5 kWp
    const m103 = await readWords(at(tcp(1)), 'holding', 40071, 50);
    expect(m103[12]).toBe(2000);
    expect(m103[36]).toBe(5); // THROTTLED
    const m123 = await readWords(at(tcp(1)), 'holding', 40123, 24);
    expect([m123[3], m123[7], s16(m123[21] ?? 0)]).toEqual([4000, 1, -2]);

    const tooMuch = await mbpoll(at([...tcp(1), '-0', '-t', '4', '-r', '40126']).concat(['10001']));
    expect(tooMuch.stderr).toMatch(/Illegal data value/);
    const readOnly = await mbpoll(at([...tcp(1), '-0', '-t', '4', '-r', '40083']).concat(['1']));
    expect(readOnly.stderr).toMatch(/Illegal data address/);
    expect(sim.exportLimitPct()).toBe(40);

    // A limit with a 60 s revert timeout switches itself off when nobody renews it.
    const renew = await mbpoll(
      at([...tcp(1), '-0', '-t', '4', '-r', '40126']).concat(['2500', '0', '60', '0', '1']),
    );
    expect(renew.code, renew.stderr).toBe(0);
    expect(sim.truth().pvPowerW).toBe(1250);
    clock.now += 59_000;
    expect(sim.exportLimitPct()).toBe(25);
    clock.now += 2_000;
    expect(sim.exportLimitPct()).toBeNull();
    expect(sim.truth().pvPowerW).toBe(3000);
    const reverted = await readWords(at(tcp(1)), 'holding', 40123, 24);
    expect(reverted[7]).toBe(0);
  });
});

describe('SDM630 meter over Modbus TCP (read by mbpoll)', () => {
  it('serves float32 input registers equal to the truth', async () => {
    const truth = sim.truth();
    const w = await readWords(at(tcp(2)), 'input', 0, 0x4c);
    expect(float32(w, 0x00)).toBe(truth.gridVoltageV);
    expect(float32(w, 0x34)).toBe(truth.gridPowerW);
    expect(float32(w, 0x46)).toBe(truth.gridFrequencyHz);
    expect(float32(w, 0x48) * 1000).toBe(truth.gridImportWh);
    expect(float32(w, 0x4a) * 1000).toBe(truth.gridExportWh);
    const phases = float32(w, 0x0c) + float32(w, 0x0e) + float32(w, 0x10);
    expect(phases).toBeCloseTo(truth.gridPowerW, 1);
    expect(float32(w, 0x2a)).toBeCloseTo(truth.gridVoltageV, 0);
    // mbpoll's own float decoding agrees (word order big-endian).
    const shown = await mbpoll(at([...tcp(2), '-0', '-t', '3:float', '-B', '-r', '52']));
    expect(Number(shown.values.get(52))).toBeCloseTo(truth.gridPowerW, 0);
    const total = await readWords(at(tcp(2)), 'input', 0x0156, 4);
    expect(float32(total, 0)).toBeCloseTo((truth.gridImportWh + truth.gridExportWh) / 1000, 1);
  });

  it('shows pinned values, with grid power positive on import', async () => {
    sim.pin({ pvPowerW: 0, loadPowerW: 1500 });
    expect(float32(await readWords(at(tcp(2)), 'input', 0x34, 2), 0)).toBe(1500);
    sim.pin({ pvPowerW: 3000, loadPowerW: 1000 });
    expect(float32(await readWords(at(tcp(2)), 'input', 0x34, 2), 0)).toBe(-2000);
  });

  it('answers illegal data address outside its register blocks, and nothing for holding registers', async () => {
    for (const [table, address] of [
      ['3:hex', 0x54],
      ['3:hex', 0x100],
      ['4:hex', 0],
    ] as const) {
      const r = await mbpoll(at([...tcp(2), '-0', '-t', table, '-r', String(address), '-c', '2']));
      expect(r.stderr, `${table} ${address}`).toMatch(/Illegal data address/);
    }
  });
});

describe('faults over TCP, per unit', () => {
  const readMeter = (timeoutS = '0.5') =>
    mbpoll(at([...tcp(2, timeoutS), '-0', '-t', '3:hex', '-r', '52', '-c', '2']));
  const readInverterW = () => mbpoll(at([...tcp(1), '-0', '-t', '4:hex', '-r', '40083']));

  it('makes each fault visible to mbpoll while the other unit keeps answering', async () => {
    const expected: Array<[Parameters<Simulator['setFault']>[1], RegExp]> = [
      ['silence', /Connection timed out/],
      ['exception', /Slave device or server failure/],
      ['garbage', /Invalid data/],
      ['truncated', /Connection timed out/],
    ];
    for (const [fault, message] of expected) {
      sim.setFault(2, fault);
      const r = await readMeter();
      expect(r.code, fault).not.toBe(0);
      expect(r.stderr, fault).toMatch(message);
      expect(r.values.size, fault).toBe(0);
      const other = await readInverterW();
      expect(other.code, `unit 1 while unit 2 is in ${fault}`).toBe(0);
    }
    sim.setFault(2, 'none');
    const back = await readMeter('2');
    expect(back.code).toBe(0);
  });

  it('reads NaN from the meter and "not implemented" from the inverter in the nan fault', async () => {
    sim.setFault('all', 'nan');
    const r = await readMeter('2');
    expect([r.values.get(52), r.values.get(53)]).toEqual(['0x7FC0', '0x0000']);
    const shown = await mbpoll(at([...tcp(2), '-0', '-t', '3:float', '-B', '-r', '52']));
    expect(shown.values.get(52)).toMatch(/nan/i);
    const inverter = await readInverterW();
    expect(inverter.values.get(40083)).toBe('0x8000');
  });

  it('silences both units with "all", and reports units not on the bus as a gateway would', async () => {
    sim.setFault('all', 'silence');
    expect((await readMeter()).stderr).toMatch(/timed out/);
    const inverter = await mbpoll(at([...tcp(1, '0.5'), '-0', '-t', '4:hex', '-r', '40000']));
    expect(inverter.stderr).toMatch(/timed out/);
    sim.setFault('all', 'none');
    const stranger = await mbpoll(at([...tcp(9), '-0', '-t', '4:hex', '-r', '40000']));
    expect(stranger.stderr).toMatch(/Target device failed to respond/);
  });
});

describe('other SunSpec bases and unit ids', () => {
  it('puts SunS at 50000 or 0 and moves the units', async () => {
    for (const base of [50000, 0] as const) {
      const other = await startSimulator({
        tcp: { port: 0 },
        sunspecBase: base,
        inverterUnit: 3,
        meterUnit: 4,
      });
      try {
        const args = ['-m', 'tcp', '-p', String(other.tcpPort), '-a', '3', '-o', '2', '127.0.0.1'];
        expect(ascii(await readWords(args, 'holding', base, 2))).toBe('SunS');
        const wrongBase = await mbpoll([
          '-m',
          'tcp',
          '-p',
          String(other.tcpPort),
          '-a',
          '3',
          '-0',
          '-t',
          '4:hex',
          '-r',
          '40000',
          '127.0.0.1',
        ]);
        expect(wrongBase.stderr).toMatch(/Illegal data address/);
        const meter = ['-m', 'tcp', '-p', String(other.tcpPort), '-a', '4', '-o', '2', '127.0.0.1'];
        other.pin({ pvPowerW: 1000, loadPowerW: 400 });
        expect(float32(await readWords(meter, 'input', 0x34, 2), 0)).toBe(-600);
      } finally {
        await other.stop();
      }
    }
  });
});
