import { describe, expect, it } from 'vitest';
import { planReads, RegisterImage, readBlocks, type Span } from '../../src/devices/modbus/plan.js';
import { parseModbusProfile } from '../../src/devices/modbus/profile-schema.js';
import { RegisterMapReader } from '../../src/devices/modbus/register-map-reader.js';
import { profile } from './helpers/devices.js';

const span = (address: number, count: number, fn: Span['fn'] = 'input'): Span => ({ fn, address, count });

describe('read planning', () => {
  it.each([
    {
      name: 'adjacent spans merge even with maxGap 0',
      spans: [span(0, 2), span(2, 2), span(4, 2)],
      opts: { maxGap: 0, maxRegisters: 125 },
      blocks: [span(0, 6)],
    },
    {
      name: 'a gap wider than maxGap splits',
      spans: [span(0, 2), span(10, 2)],
      opts: { maxGap: 7, maxRegisters: 125 },
      blocks: [span(0, 2), span(10, 2)],
    },
    {
      name: 'a gap up to maxGap is bridged',
      spans: [span(0, 2), span(10, 2)],
      opts: { maxGap: 8, maxRegisters: 125 },
      blocks: [span(0, 12)],
    },
    {
      name: 'the register limit splits a long run',
      spans: [span(0, 60), span(60, 60), span(120, 10)],
      opts: { maxGap: 0, maxRegisters: 125 },
      blocks: [span(0, 120), span(120, 10)],
    },
    {
      name: 'a device limit below 125 is honoured',
      spans: [span(0, 2), span(0x48, 2), span(0x4a, 2)],
      opts: { maxGap: 100, maxRegisters: 0x4a },
      blocks: [span(0, 0x4a), span(0x4a, 2)],
    },
    {
      name: 'functions never share a request; overlaps and order do not matter',
      spans: [span(10, 2, 'holding'), span(4, 4), span(0, 6), span(11, 3, 'holding')],
      opts: { maxGap: 0, maxRegisters: 125 },
      blocks: [span(0, 8), span(10, 4, 'holding')],
    },
  ])('$name', ({ spans, opts, blocks }) => {
    expect(planReads(spans, opts)).toEqual(blocks);
  });

  it('never splits a value from its scale factor and refuses a span over the limit', () => {
    // A value at +14 and its scale factor at +15 of one model arrive in the same request.
    expect(
      planReads([span(40070, 16, 'holding'), span(40070, 27, 'holding')], { maxGap: 0, maxRegisters: 30 }),
    ).toEqual([span(40070, 27, 'holding')]);
    expect(() => planReads([span(0, 126)], { maxGap: 0, maxRegisters: 125 })).toThrow(/exceed 125/);
  });

  it('reads each block once and serves every register from the image', async () => {
    const calls: string[] = [];
    const image = await readBlocks([span(0, 4), span(100, 2, 'holding')], async (fn, address, count) => {
      calls.push(`${fn}@${address}+${count}`);
      return Array.from({ length: count }, (_, i) => address + i + (fn === 'holding' ? 1000 : 0));
    });
    expect(calls).toEqual(['input@0+4', 'holding@100+2']);
    expect(image.get('input', 2, 2)).toEqual([2, 3]);
    expect(image.get('holding', 101, 1)).toEqual([1101]);
    expect(() => image.get('input', 3, 2)).toThrow(/input register 4 was not read/);
    expect(() => new RegisterImage().get('holding', 0, 1)).toThrow(/not read/);
  });

  it('a short answer is a frame error', async () => {
    await expect(readBlocks([span(0, 4)], async () => [1, 2])).rejects.toMatchObject({ kind: 'frame' });
  });

  it.each([
    ['sdm630', [span(0, 0x4c)]],
    ['sdm120', [span(0, 0x4c)]],
  ])('the %s map is one request', (id, blocks) => {
    expect(new RegisterMapReader(parseModbusProfile(profile(id))).blocks()).toEqual(blocks);
  });
});
