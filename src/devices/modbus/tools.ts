import { errorText } from '../../core/errors.js';
import type { BusWorker } from './bus-worker.js';
import { decodeRegisters, type RegisterType, registerCount, type WordOrder } from './codec.js';
import { ModbusError } from './errors.js';
import { MAX_READ_REGISTERS } from './profile-schema.js';
import { discoverSunspec, type SunspecMap } from './sunspec.js';
import { SUNSPEC_MODELS } from './sunspec-models.js';
import { pointValue } from './values.js';

/** Field tools behind `powerdeal modbus read|scan` and `powerdeal sunspec`. */

export type ReadTable = 'holding' | 'input' | 'coils' | 'discrete';
export type ReadFormat = RegisterType | 'hex';

export interface DecodedValue {
  address: number;
  /** The registers the value came from, as 0x-prefixed hex. */
  registers: string[];
  value: number | string | boolean;
}

const hex = (r: number) => `0x${r.toString(16).padStart(4, '0')}`;

/** Reads raw registers or bits from one unit. */
export async function readTable(
  bus: BusWorker,
  unit: number,
  table: ReadTable,
  address: number,
  count: number,
  timeoutMs: number,
): Promise<number[] | boolean[]> {
  if (table === 'coils' || table === 'discrete') return bus.readBits(unit, table, address, count, timeoutMs);
  return bus.readRegisters(unit, table, address, count, timeoutMs);
}

/**
 * Decodes registers in `format`: one value per register for u16/s16/hex, per two registers for the
 * 32-bit types, one string for all of them. A NaN float throws (it is a read error, not a value).
 */
export function decodeTable(
  regs: readonly number[],
  address: number,
  format: ReadFormat,
  wordOrder: WordOrder,
): DecodedValue[] {
  if (format === 'string') {
    return [
      {
        address,
        registers: regs.map(hex),
        value: decodeRegisters(regs, 'string', { length: regs.length }) as string,
      },
    ];
  }
  const size = format === 'hex' ? 1 : registerCount(format);
  if (regs.length % size !== 0) {
    throw new RangeError(`${format} takes ${size} registers per value: ask for a multiple of ${size}`);
  }
  const out: DecodedValue[] = [];
  for (let i = 0; i < regs.length; i += size) {
    const chunk = regs.slice(i, i + size);
    const value =
      format === 'hex' ? hex(chunk[0] as number) : (decodeRegisters(chunk, format, { wordOrder }) as number);
    out.push({ address: address + i, registers: chunk.map(hex), value });
  }
  return out;
}

export interface ScanHit {
  unit: number;
  /** `data`: it returned registers; otherwise the exception it answered with (still a live unit). */
  answer: string;
}

/**
 * Probes unit ids one by one with a one-register read. Any answer, an exception included, means a unit
 * is there; silence, or a gateway saying the target did not respond (exceptions 10 and 11), means none.
 */
export async function scanUnits(
  bus: BusWorker,
  from: number,
  to: number,
  probe: { table: 'holding' | 'input'; address: number },
  timeoutMs: number,
  onProbe?: (unit: number) => void,
): Promise<ScanHit[]> {
  const hits: ScanHit[] = [];
  for (let unit = from; unit <= to; unit++) {
    onProbe?.(unit);
    try {
      await bus.readRegisters(unit, probe.table, probe.address, 1, timeoutMs);
      hits.push({ unit, answer: 'data' });
    } catch (err) {
      if (!(err instanceof ModbusError)) throw err;
      if (err.kind === 'connection') throw err;
      if (err.kind === 'exception' && err.code !== 10 && err.code !== 11) {
        hits.push({ unit, answer: `exception ${err.code}` });
      }
    }
  }
  return hits;
}

export interface SunspecPointDump {
  name: string;
  /** null: the device reports the point as not implemented (or it could not be decoded). */
  value: number | string | null;
  unit?: string;
  error?: string;
}

export interface SunspecModelDump {
  id: number;
  name: string;
  address: number;
  length: number;
  /** Decoded, scaled points of a known model. */
  points?: SunspecPointDump[];
  /** The raw body of a model this tool does not know, as hex. */
  registers?: string[];
}

export interface SunspecDump {
  base: number;
  models: SunspecModelDump[];
}

/** Discovers the model chain and reads every model whole, so values and scale factors agree. */
export async function dumpSunspec(
  bus: BusWorker,
  unit: number,
  timeoutMs: number,
  bases: readonly number[] = [40000, 0, 50000],
): Promise<SunspecDump> {
  const read = (address: number, count: number) =>
    bus.readRegisters(unit, 'holding', address, count, timeoutMs);
  const map: SunspecMap = await discoverSunspec(read, bases);
  const models: SunspecModelDump[] = [];
  for (const m of map.models) {
    const regs: number[] = [];
    const total = m.length + 2;
    for (let at = 0; at < total; at += MAX_READ_REGISTERS) {
      regs.push(...(await read(m.address + at, Math.min(MAX_READ_REGISTERS, total - at))));
    }
    const def = SUNSPEC_MODELS[m.id];
    const dump: SunspecModelDump = {
      id: m.id,
      name: def?.name ?? `model ${m.id}`,
      address: m.address,
      length: m.length,
    };
    if (def === undefined) {
      dump.registers = regs.slice(2).map(hex);
    } else {
      dump.points = [];
      for (const p of def.points) {
        const size = registerCount(p.type, p.length ?? 1);
        if (p.offset + size > total || (p.sf !== undefined && p.sf >= total)) continue;
        const point: SunspecPointDump = {
          name: p.name,
          value: null,
          ...(p.unit === undefined ? {} : { unit: p.unit }),
        };
        try {
          point.value = pointValue(
            { type: p.type, length: size, wordOrder: 'big', factor: 1, negate: false },
            regs.slice(p.offset, p.offset + size),
            {
              sunspecSentinels: true,
              what: `${p.name} (model ${m.id})`,
              ...(p.sf === undefined ? {} : { sfRegister: regs[p.sf] }),
            },
          );
        } catch (err) {
          // One absurd scale factor should not hide the rest of the model from the technician.
          point.error = errorText(err);
        }
        dump.points.push(point);
      }
    }
    models.push(dump);
  }
  return { base: map.base, models };
}
