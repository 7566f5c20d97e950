import { errorText } from '../../core/errors.js';
import { exceptionName, ModbusError } from './errors.js';

/** "SunS" in two registers: the start of every SunSpec register map. */
const SUNS_MARKER = [0x5375, 0x6e53] as const;
const SUNSPEC_END = 0xffff;

export interface SunspecModel {
  id: number;
  /** Address of the model's ID register; its points follow L at address + 2. */
  address: number;
  /** L: registers after the ID and L registers. */
  length: number;
}

export interface SunspecMap {
  base: number;
  models: SunspecModel[];
}

export type HoldingReader = (address: number, count: number) => Promise<number[]>;

/** Far more models than any device has: a chain longer than this is garbage, not a map. */
const MAX_MODELS = 64;

function describeFailure(err: unknown): string {
  if (err instanceof ModbusError) {
    if (err.kind === 'exception' && err.code !== undefined)
      return `exception ${err.code} (${exceptionName(err.code)})`;
    if (err.kind === 'timeout') return 'no answer';
  }
  return errorText(err);
}

/**
 * Finds the SunS marker at the candidate bases (an exception or a timeout at one base is expected on
 * devices that use another) and walks the model chain (ID, L) up to the 0xFFFF end marker.
 */
export async function discoverSunspec(read: HoldingReader, bases: readonly number[]): Promise<SunspecMap> {
  const tried: string[] = [];
  let anyAnswer = false;
  for (const base of bases) {
    let regs: number[];
    try {
      regs = await read(base, 2);
    } catch (err) {
      if (err instanceof ModbusError && err.kind === 'connection') throw err;
      if (err instanceof ModbusError && err.kind === 'exception') anyAnswer = true;
      tried.push(`${base}: ${describeFailure(err)}`);
      continue;
    }
    anyAnswer = true;
    if (regs[0] === SUNS_MARKER[0] && regs[1] === SUNS_MARKER[1]) {
      return { base, models: await walkModels(read, base) };
    }
    tried.push(`${base}: ${regs.map((r) => `0x${r.toString(16).padStart(4, '0')}`).join(' ')}`);
  }
  throw new ModbusError(
    anyAnswer ? 'value' : 'timeout',
    `no SunSpec marker "SunS" (0x5375 0x6E53) at ${bases.join(', ')} (${tried.join('; ')})`,
  );
}

async function walkModels(read: HoldingReader, base: number): Promise<SunspecModel[]> {
  const models: SunspecModel[] = [];
  let address = base + 2;
  while (models.length < MAX_MODELS) {
    let header: number[];
    try {
      header = await read(address, 2);
    } catch (err) {
      // Some devices end the chain with "illegal address" instead of the 0xFFFF marker.
      if (err instanceof ModbusError && err.kind === 'exception' && models.length > 0) return models;
      throw err;
    }
    const [id, length] = header as [number, number];
    if (id === SUNSPEC_END) return models;
    if (id === 0 || address + 2 + length > 0x10000) {
      throw new ModbusError('value', `SunSpec chain broken at ${address}: model ${id} with length ${length}`);
    }
    models.push({ id, address, length });
    address += 2 + length;
  }
  throw new ModbusError('value', `SunSpec chain at ${base} has more than ${MAX_MODELS} models`);
}

/** The first model of the device that is one of `ids`, in the order given. */
export function findModel(map: SunspecMap, ids: readonly number[]): SunspecModel | undefined {
  for (const id of ids) {
    const model = map.models.find((m) => m.id === id);
    if (model !== undefined) return model;
  }
  return undefined;
}
