import { errorText } from '../../core/errors.js';
import { applyScaleFactor, decodeRegisters, RegisterValueError } from './codec.js';
import { ModbusError } from './errors.js';
import type { RegisterPoint } from './profile-schema.js';

type Rules = Pick<RegisterPoint, 'type' | 'length' | 'wordOrder' | 'factor' | 'negate' | 'clampMin'>;

/**
 * Turns a point's registers into its canonical value: decode, SunSpec scale factor, unit factor, sign,
 * clamp. Returns null when the device says "not implemented"; throws a `value` ModbusError for NaN floats
 * and absurd scale factors.
 */
export function pointValue(
  rules: Rules,
  regs: readonly number[],
  opts: { sunspecSentinels: boolean; sfRegister?: number; what: string },
): number | string | null {
  let raw: number | string | null;
  try {
    raw = decodeRegisters(regs, rules.type, {
      wordOrder: rules.wordOrder,
      sunspecSentinels: opts.sunspecSentinels,
      length: rules.length,
    });
  } catch (err) {
    if (err instanceof RegisterValueError) throw new ModbusError('value', `${opts.what}: ${err.message}`);
    throw err;
  }
  if (raw === null || typeof raw === 'string') return raw;
  let value = raw;
  if (opts.sfRegister !== undefined) {
    const sf = decodeRegisters([opts.sfRegister], 's16', { sunspecSentinels: true });
    if (sf === null) return null;
    try {
      value = applyScaleFactor(value, sf as number);
    } catch (err) {
      throw new ModbusError('value', `${opts.what}: ${errorText(err)}`);
    }
  }
  // Dividing by 10 rather than multiplying by 0.1 keeps 2301 → 230.1 exact (not 230.10000000000002).
  if (rules.factor !== 1) value = rules.factor >= 1 ? value * rules.factor : value / (1 / rules.factor);
  if (rules.negate) value = -value;
  if (rules.clampMin !== undefined && value < rules.clampMin) value = rules.clampMin;
  // -0 from negating a zero reads oddly in JSON and tables.
  return value === 0 ? 0 : value;
}
