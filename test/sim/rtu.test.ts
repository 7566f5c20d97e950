import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SimFault, type Simulator, startSimulator } from '../../src/sim/index.js';
import { waitFor } from '../helpers/ports.js';
import { type PtyPair, startPtyPair } from '../helpers/socat.js';
import { ascii, float32, mbpoll, readWords } from './helpers/mbpoll.js';

const NOON = Date.UTC(2024, 5, 21, 12, 0, 0);
let dir: string;
let line: PtyPair | undefined;
let sim: Simulator | undefined;
let gateway: ChildProcess | undefined;

/** mbpoll as an RTU master on the other end of the line. */
const rtu = (path: string, unit: number, timeoutS = '2') => [
  '-m',
  'rtu',
  '-b',
  '9600',
  '-P',
  'none',
  '-a',
  String(unit),
  '-o',
  timeoutS,
  path,
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'powerdeal-sim-rtu-'));
  line = await startPtyPair();
  sim = await startSimulator({
    rtu: { path: line.a, baudRate: 9600 },
    rtuOverTcp: { port: 0 },
    clock: () => NOON,
    utcOffsetMin: 0,
    seed: 21,
  });
});
afterAll(async () => {
  if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL');
  await sim?.stop();
  await line?.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  sim?.setFault('all', 'none');
  sim?.unpin();
});

describe('Modbus RTU on a pty pair (read by mbpoll)', () => {
  it('serves the SunSpec chain at unit 1 and SDM630 floats equal to the truth at unit 2', async () => {
    const b = line!.b;
    const head = await readWords(rtu(b, 1), 'holding', 40000, 4);
    expect(ascii(head.slice(0, 2))).toBe('SunS');
    expect(head.slice(2)).toEqual([1, 65]);
    expect(await readWords(rtu(b, 1), 'holding', 40069, 2)).toEqual([103, 50]);
    expect(await readWords(rtu(b, 1), 'holding', 40121, 2)).toEqual([123, 24]);
    expect(await readWords(rtu(b, 1), 'holding', 40147, 2)).toEqual([0xffff, 0]);

    const truth = sim!.truth();
    const w = await readWords(rtu(b, 2), 'input', 0, 0x4c);
    expect(float32(w, 0x00)).toBe(truth.gridVoltageV);
    expect(float32(w, 0x34)).toBe(truth.gridPowerW);
    expect(float32(w, 0x46)).toBe(truth.gridFrequencyHz);
    expect(float32(w, 0x48) * 1000).toBe(truth.gridImportWh);
    expect(float32(w, 0x4a) * 1000).toBe(truth.gridExportWh);
    expect((await readWords(rtu(b, 1), 'holding', 40083, 1))[0]).toBe(truth.pvPowerW);
  });

  it('takes an export limit written over RTU', async () => {
    const write = await mbpoll([
      ...rtu(line!.b, 1),
      '-0',
      '-t',
      '4',
      '-r',
      '40126',
      '5000',
      '0',
      '0',
      '0',
      '1',
    ]);
    expect(write.code, write.stderr).toBe(0);
    expect(sim!.exportLimitPct()).toBe(50);
    const off = await mbpoll([...rtu(line!.b, 1), '-0', '-t', '4', '-r', '40130', '0']);
    expect(off.code, off.stderr).toBe(0);
    expect(sim!.exportLimitPct()).toBeNull();
  });

  it('makes each fault of unit 2 visible while unit 1 on the same line keeps answering', async () => {
    const expected: Array<[SimFault, RegExp]> = [
      ['silence', /Connection timed out/],
      ['exception', /Slave device or server failure/],
      ['garbage', /Invalid CRC/],
      ['truncated', /Connection timed out/],
    ];
    for (const [fault, message] of expected) {
      sim!.setFault(2, fault);
      const r = await mbpoll([...rtu(line!.b, 2, '0.5'), '-0', '-t', '3:hex', '-r', '52', '-c', '2']);
      expect(r.code, fault).not.toBe(0);
      expect(r.stderr, fault).toMatch(message);
      expect(r.values.size, fault).toBe(0);
      const other = await mbpoll([...rtu(line!.b, 1), '-0', '-t', '4:hex', '-r', '40000', '-c', '2']);
      expect(other.code, `unit 1 while unit 2 is in ${fault}: ${other.stderr}`).toBe(0);
      expect(other.values.get(40000)).toBe('0x5375');
    }
    sim!.setFault(2, 'nan');
    const nan = await mbpoll([...rtu(line!.b, 2), '-0', '-t', '3:hex', '-r', '52', '-c', '2']);
    expect([nan.values.get(52), nan.values.get(53)]).toEqual(['0x7FC0', '0x0000']);
    sim!.setFault(2, 'none');
    const back = await mbpoll([...rtu(line!.b, 2), '-0', '-t', '3:hex', '-r', '52', '-c', '2']);
    expect(back.code, back.stderr).toBe(0);
  });

  it('stays silent for units that are not on the line', async () => {
    const r = await mbpoll([...rtu(line!.b, 7, '0.5'), '-0', '-t', '4:hex', '-r', '40000']);
    expect(r.stderr).toMatch(/Connection timed out/);
  });
});

describe('raw RTU over TCP, as an RS485 gateway forwards it', () => {
  it('answers mbpoll through a socat pty bridged to the TCP port', async () => {
    // mbpoll (RTU) -> pty G -> socat -> TCP -> simulator: only the gateway's transparency is added.
    const g = join(dir, 'G');
    gateway = spawn('socat', [`pty,raw,echo=0,link=${g}`, `tcp:127.0.0.1:${sim!.rtuOverTcpPort}`], {
      stdio: 'ignore',
    });
    await waitFor(() => existsSync(g), 10_000, 'socat gateway pty');
    sim!.pin({ pvPowerW: 2000, loadPowerW: 800 });
    expect(float32(await readWords(rtu(g, 2), 'input', 0x34, 2), 0)).toBe(-1200);
    expect(ascii(await readWords(rtu(g, 1), 'holding', 40000, 2))).toBe('SunS');
    sim!.setFault(1, 'exception');
    const r = await mbpoll([...rtu(g, 1), '-0', '-t', '4:hex', '-r', '40000']);
    expect(r.stderr).toMatch(/Slave device or server failure/);
  });
});
