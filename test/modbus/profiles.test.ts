import { describe, expect, it } from 'vitest';
import { parseModbusProfile, parseSunspecProfile } from '../../src/devices/modbus/profile-schema.js';
import { SUNSPEC_MODELS } from '../../src/devices/modbus/sunspec-models.js';
import { pointValue } from '../../src/devices/modbus/values.js';
import { ProfileError } from '../../src/devices/profile-error.js';
import type { ProfileFile } from '../../src/devices/profiles.js';
import { profile } from './helpers/devices.js';

function file(body: Record<string, unknown>, kind: 'modbus' | 'sunspec' = 'modbus'): ProfileFile {
  return {
    id: 'meter-x',
    kind,
    description: 'test meter',
    file: 'hardware/profiles/meter-x.yaml',
    body: { id: 'meter-x', kind, description: 'test meter', ...body },
  };
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProfileError);
    expect((err as Error).message).toContain('hardware/profiles/meter-x.yaml');
    return [...(err as ProfileError).problems];
  }
  throw new Error('expected a ProfileError');
}

const point = { target: 'gridPowerW', address: 0x34, type: 'f32', unit: 'W' };

describe('profile bodies', () => {
  it('the shipped profiles are valid and convert kWh to Wh', () => {
    const sdm630 = parseModbusProfile(profile('sdm630'));
    expect(sdm630.points.map((p) => ('quantity' in p.target ? p.target.quantity : ''))).toEqual([
      'gridVoltageV',
      'gridPowerW',
      'gridFrequencyHz',
      'gridImportWh',
      'gridExportWh',
    ]);
    expect(sdm630.points.find((p) => p.address === 0x48)).toMatchObject({
      fn: 'input',
      factor: 1000,
      type: 'f32',
    });
    expect(sdm630.info).toEqual([
      expect.objectContaining({ fn: 'holding', address: 0xfc00, target: { info: 'serial' } }),
    ]);
    expect(parseModbusProfile(profile('sdm120')).points).toHaveLength(5);
    const inverter = parseSunspecProfile(profile('sunspec-inverter'));
    expect(inverter.bases).toEqual([40000, 0, 50000]);
    expect(inverter.exportLimit).toEqual({ model: 123, pct: { offset: 5, sf: 23 }, enable: { offset: 9 } });
  });

  it('the inverter profile agrees with the SunSpec model definitions', () => {
    const inverter = parseSunspecProfile(profile('sunspec-inverter'));
    for (const p of [...inverter.points, ...inverter.info]) {
      for (const model of p.models) {
        const def = SUNSPEC_MODELS[model]?.points.find((d) => d.offset === p.offset);
        expect(def, `model ${model} offset ${p.offset}`).toBeDefined();
        expect(def?.type).toBe(p.type);
        expect(def?.sf).toBe(p.sf);
      }
    }
    const m123 = SUNSPEC_MODELS[123]?.points ?? [];
    expect(m123.find((d) => d.name === 'WMaxLimPct')).toMatchObject({ offset: 5, sf: 23 });
    expect(m123.find((d) => d.name === 'WMaxLim_Ena')).toMatchObject({ offset: 9 });
  });

  it.each([
    [{ points: [{ ...point, type: 'f64' }] }, /points\[0\]\.type: type must be one of u16, s16/],
    [
      { points: [{ ...point, target: 'gridPowerKw' }] },
      /points\[0\]\.target: "gridPowerKw" is neither a quantity/,
    ],
    [
      { points: [{ ...point, unit: 'kWh' }] },
      /points\[0\]\.unit: "kWh" does not fit: gridPowerW is in W: .* one of W, kW/,
    ],
    [{ points: [{ ...point, unit: undefined }] }, /points\[0\]\.unit: missing/],
    [{ points: [{ ...point, adress: 3 }] }, /points\[0\]: unknown key "adress"/],
    [{ points: [{ ...point, address: 70000 }] }, /points\[0\]\.address: a register address is 0\.\.65535/],
    [{ points: [point, { ...point, address: 0 }] }, /points\[1\]\.target: gridPowerW is mapped twice/],
    [
      { points: [{ ...point, target: 'info.serial', type: 'string' }] },
      /points\[0\]\.length: a string needs its length/,
    ],
    [{ points: [point], maxRegisters: 200 }, /maxRegisters/],
    [{ points: [] }, /points: a profile needs at least one point/],
    [{ points: [point], wordorder: 'big' }, /\(top level\): unknown key "wordorder"/],
  ])('rejects a bad modbus body and names the key: %j', (body, message) => {
    expect(problems(() => parseModbusProfile(file(body))).join('\n')).toMatch(message);
  });

  it.each([
    [
      { points: [{ target: 'pvPowerW', model: 103, offset: 1, type: 's16', unit: 'W' }] },
      /points\[0\]\.offset: 0 and 1 are the model's ID/,
    ],
    [{ bases: [40001], points: [] }, /bases/],
    [{ points: [{ target: 'pvPowerW', offset: 14, type: 's16', unit: 'W' }] }, /points\[0\]\.model/],
    [
      {
        points: [{ target: 'pvPowerW', model: [103], offset: 14, type: 's16', unit: 'W' }],
        controls: { exportLimit: { model: 123 } },
      },
      /controls\.exportLimit\.pct/,
    ],
  ])('rejects a bad sunspec body and names the key: %j', (body, message) => {
    expect(problems(() => parseSunspecProfile(file(body, 'sunspec'))).join('\n')).toMatch(message);
  });

  it('applies scale, unit, sign and clamp in that order', () => {
    const rules = { type: 's16' as const, length: 1, wordOrder: 'big' as const, factor: 1000, negate: true };
    const opts = { sunspecSentinels: true, what: 'x' };
    expect(pointValue(rules, [12], { ...opts, sfRegister: 0xffff })).toBe(-12 * 100); // 12 × 10^-1 kW → −1200 W
    expect(pointValue(rules, [0x8000], opts)).toBeNull();
    expect(pointValue({ ...rules, negate: false, factor: 1, clampMin: 0 }, [0xfffb], opts)).toBe(0);
    expect(pointValue({ ...rules, negate: false, factor: 0.1 }, [2301], opts)).toBe(230.1);
    expect(pointValue(rules, [5], { ...opts, sfRegister: 0x8000 })).toBeNull();
    expect(() => pointValue(rules, [5], { ...opts, sfRegister: 20 })).toThrow(/x: scale factor 20/);
  });
});
