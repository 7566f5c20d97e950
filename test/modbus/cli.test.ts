import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { type PymodbusPeer, startPymodbus } from './helpers/pymodbus.js';

/** The `modbus read|scan` and `sunspec` verbs, run as real processes against the pymodbus peer. */

const run = promisify(execFile);
const cli = (...args: string[]) => runCli(args);

/** mbpoll (libmodbus) as a second, independent master reading the same registers. */
async function mbpoll(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('mbpoll', ['-m', 'tcp', '-p', String(port), '-1', ...args, '127.0.0.1'], {
    timeout: 10_000,
  });
  return stdout;
}

describe('modbus and sunspec verbs', () => {
  let peer: PymodbusPeer;
  let port: number;
  let tcp: string[];

  beforeAll(async () => {
    port = await freePort();
    peer = await startPymodbus({ tcp: port });
    tcp = ['--tcp', `127.0.0.1:${port}`];
  });
  afterAll(async () => {
    await peer?.stop();
  });

  /** A float from the peer's meter (unit 2, two input registers). */
  const readMeterFloat = (address: string, ...more: string[]) =>
    cli(
      'modbus',
      'read',
      ...tcp,
      '--unit',
      '2',
      '--input',
      '--address',
      address,
      '--count',
      '2',
      '--format',
      'f32',
      ...more,
    );

  it('reads a float like mbpoll does, in both word orders', async () => {
    const big = await readMeterFloat('0x34', '--json');
    expect(big.code).toBe(0);
    const out = JSON.parse(big.stdout) as {
      values: Array<{ address: number; registers: string[]; value: number }>;
    };
    expect(out.values).toEqual([{ address: 52, registers: ['0xc4bb', '0x9000'], value: -1500.5 }]);
    expect(await mbpoll(port, '-a', '2', '-t', '3:float', '-B', '-r', '53', '-c', '1')).toMatch(
      /\[53\]:\s+-1500\.5/,
    );

    // mbpoll's default float order is low word first.
    const little = await readMeterFloat('52', '--word-order', 'little', '--json');
    const swapped = (JSON.parse(little.stdout) as typeof out).values[0]?.value ?? 0;
    const theirs = Number(
      /\[53\]:\s+(\S+)/.exec(await mbpoll(port, '-a', '2', '-t', '3:float', '-r', '53', '-c', '1'))?.[1],
    );
    expect(swapped / theirs).toBeCloseTo(1, 4);
  });

  it('prints a table, strings and hex', async () => {
    const text = await cli(
      'modbus',
      'read',
      ...tcp,
      '--address',
      '40004',
      '--count',
      '16',
      '--format',
      'string',
    );
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ADDRESS\s+HEX\s+REGISTERS\s+VALUE\n40004\s+0x9c44\s+0x5065 .*"PeerSolar"/);
    const hex = await cli(
      'modbus',
      'read',
      ...tcp,
      '--address',
      '40000',
      '--count',
      '4',
      '--format',
      'hex',
      '--json',
    );
    expect(
      (JSON.parse(hex.stdout) as { values: Array<{ value: string }> }).values.map((v) => v.value),
    ).toEqual(['0x5375', '0x6e53', '0x0001', '0x0042']);
  });

  it('exits 1 when the unit does not answer, 2 on bad flags', async () => {
    const silent = await cli('modbus', 'read', ...tcp, '--unit', '9', '--address', '0', '--timeout', '300');
    expect(silent.code).toBe(1);
    expect(silent.stderr).toMatch(/unit 9 holding 0\+1: no answer \(timed out\)/);
    const refused = await cli(
      'modbus',
      'read',
      ...tcp,
      '--unit',
      '2',
      '--address',
      '0x10',
      '--format',
      's32',
      '--count',
      '3',
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/multiple of 2/);
    for (const args of [
      ['modbus', 'read', ...tcp, '--address', '0', '--count', '0'],
      ['modbus', 'read', ...tcp, '--address', '0', '--input', '--coils'],
      ['modbus', 'read', '--address', '0'],
      ['modbus', 'read', ...tcp, '--address', '0', '--format', 'f64'],
    ]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
    }
  });

  it('scan lists the units that answer, exceptions included', async () => {
    const found = await cli('modbus', 'scan', ...tcp, '--from', '1', '--to', '5', '--json');
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({
      timeoutMs: 200,
      units: [
        { unit: 1, answer: 'exception 2' },
        { unit: 2, answer: 'exception 2' },
        { unit: 3, answer: 'exception 2' },
      ],
    });
    const byInput = await cli('modbus', 'scan', ...tcp, '--from', '2', '--to', '3', '--input');
    expect(byInput.stdout).toMatch(/UNIT\s+ANSWER\n2\s+data\n3\s+data/);
    const none = await cli('modbus', 'scan', ...tcp, '--from', '4', '--to', '6');
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/no unit answered from 4 to 6/);
  });

  it('sunspec discovers and dumps the models', async () => {
    const json = await cli('sunspec', ...tcp, '--unit', '1', '--json');
    expect(json.code).toBe(0);
    const dump = JSON.parse(json.stdout) as {
      base: number;
      models: Array<{ id: number; points?: Array<{ name: string; value: unknown }> }>;
    };
    expect(dump.base).toBe(40000);
    expect(dump.models.map((m) => m.id)).toEqual([1, 103, 123]);
    const w = dump.models[1]?.points?.find((p) => p.name === 'W');
    expect(w).toEqual({ name: 'W', value: peer.expected.inverter.pvPowerW, unit: 'W' });

    const human = await cli('sunspec', ...tcp, '--unit', '1');
    expect(human.stdout).toMatch(/model 103 inverter \(three phase\)\s+at 40070, 50 registers/);
    expect(human.stdout).toMatch(/SN\s+"PS0042"/);

    const meter = await cli('sunspec', ...tcp, '--unit', '2');
    expect(meter.code).toBe(1);
    expect(meter.stderr).toMatch(/no SunSpec marker "SunS" \(0x5375 0x6E53\) at 40000, 0, 50000/);
  });
});
