import { type Block, EXCEPTION, readBlocks, type SimUnit } from './modbus-pdu.js';
import type { Plant, PlantState } from './plant.js';
import { Words } from './words.js';

/**
 * An Eastron SDM630 three-phase meter at the grid connection point: float32 input registers, high word
 * first, power positive when importing. Only the documented register blocks answer; the words between
 * the documented values inside a block read 0.
 */
const SDM630_REGISTERS = {
  voltageL1: 0x0000,
  voltageL2: 0x0002,
  voltageL3: 0x0004,
  currentL1: 0x0006,
  powerL1: 0x000c,
  apparentL1: 0x0012,
  reactiveL1: 0x0018,
  powerFactorL1: 0x001e,
  phaseAngleL1: 0x0024,
  averageVoltage: 0x002a,
  averageCurrent: 0x002e,
  sumCurrent: 0x0030,
  totalPower: 0x0034,
  totalApparent: 0x0038,
  totalReactive: 0x003c,
  totalPowerFactor: 0x003e,
  totalPhaseAngle: 0x0042,
  frequency: 0x0046,
  importKwh: 0x0048,
  exportKwh: 0x004a,
  importKvarh: 0x004c,
  exportKvarh: 0x004e,
  lineVoltageL1L2: 0x00c8,
  averageLineVoltage: 0x00ce,
  neutralCurrent: 0x00e0,
  totalKwh: 0x0156,
  totalKvarh: 0x0158,
} as const;

const BLOCKS = [
  { start: 0x0000, length: 0x0054 },
  { start: 0x00c8, length: 8 },
  { start: 0x00e0, length: 2 },
  { start: 0x0156, length: 4 },
] as const;

/** How the house load spreads over the phases; the inverter feeds all three evenly. */
const LOAD_SHARE = [0.5, 0.3, 0.2] as const;
/** Reactive power of the house loads, as a share of their active power (motors, power supplies). */
const REACTIVE_SHARE = 0.12;

export class Sdm630Meter implements SimUnit {
  /** Every float register reads NaN, as these meters do when their measurement fails. */
  nan = false;
  private cache: { state: PlantState; nan: boolean; blocks: Block[] } | null = null;

  constructor(private readonly plant: Plant) {}

  readInput(address: number, count: number): Uint16Array | number {
    return readBlocks(this.image(), address, count);
  }

  readHolding(): number {
    return EXCEPTION.illegalDataAddress;
  }

  writeHolding(): number {
    return EXCEPTION.illegalDataAddress;
  }

  private image(): Block[] {
    const state = this.plant.state();
    if (this.cache?.state === state && this.cache.nan === this.nan) return this.cache.blocks;
    const blocks = BLOCKS.map((b) => {
      const w = new Words(b.length);
      this.fill(w, b.start, state);
      return { start: b.start, words: w.data };
    });
    this.cache = { state, nan: this.nan, blocks };
    return blocks;
  }

  /** Writes every float register that falls inside the block starting at `start`. */
  private fill(w: Words, start: number, state: PlantState): void {
    const values = this.values(state);
    for (const [address, value] of values) {
      const at = address - start;
      if (at >= 0 && at + 2 <= w.data.length) w.f32(at, this.nan ? Number.NaN : value);
    }
  }

  private values(state: PlantState): Array<[number, number]> {
    const R = SDM630_REGISTERS;
    const t = state.truth;
    const volts = state.phaseVoltagesV;
    const p = LOAD_SHARE.map((share) => share * t.loadPowerW - t.pvPowerW / 3);
    const q = LOAD_SHARE.map((share) => share * t.loadPowerW * REACTIVE_SHARE);
    const s = p.map((pi, i) => Math.hypot(pi, q[i] ?? 0));
    const amps = s.map((si, i) => si / (volts[i] ?? 230));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const pf = (pi: number, si: number) => (si > 0 ? pi / si : 1);
    const angle = (pi: number, qi: number) => (Math.atan2(qi, pi) * 180) / Math.PI;
    const lineToLine = (x: number, y: number) => Math.sqrt(x * x + y * y + x * y);
    const lineVolts = [0, 1, 2].map((i) => lineToLine(volts[i] ?? 0, volts[(i + 1) % 3] ?? 0));
    // Neutral current: the phasor sum of three currents 120° apart.
    const [ia = 0, ib = 0, ic = 0] = amps;
    const neutral = Math.sqrt(ia * ia + ib * ib + ic * ic - ia * ib - ib * ic - ic * ia);
    const totalS = sum(s);
    const totalQ = sum(q);

    const out: Array<[number, number]> = [];
    for (let i = 0; i < 3; i++) {
      const pi = p[i] ?? 0;
      const qi = q[i] ?? 0;
      const si = s[i] ?? 0;
      out.push(
        [R.voltageL1 + 2 * i, volts[i] ?? 0],
        [R.currentL1 + 2 * i, amps[i] ?? 0],
        [R.powerL1 + 2 * i, pi],
        [R.apparentL1 + 2 * i, si],
        [R.reactiveL1 + 2 * i, qi],
        [R.powerFactorL1 + 2 * i, pf(pi, si)],
        [R.phaseAngleL1 + 2 * i, angle(pi, qi)],
        [R.lineVoltageL1L2 + 2 * i, lineVolts[i] ?? 0],
      );
    }
    out.push(
      [R.averageVoltage, sum(volts) / 3],
      [R.averageCurrent, sum(amps) / 3],
      [R.sumCurrent, sum(amps)],
      [R.totalPower, t.gridPowerW],
      [R.totalApparent, totalS],
      [R.totalReactive, totalQ],
      [R.totalPowerFactor, pf(t.gridPowerW, totalS)],
      [R.totalPhaseAngle, angle(t.gridPowerW, totalQ)],
      [R.frequency, t.gridFrequencyHz],
      [R.importKwh, state.gridImportKwh],
      [R.exportKwh, state.gridExportKwh],
      [R.importKvarh, state.gridImportKwh * REACTIVE_SHARE],
      [R.exportKvarh, 0],
      [R.averageLineVoltage, sum(lineVolts) / 3],
      [R.neutralCurrent, neutral],
      [R.totalKwh, state.gridImportKwh + state.gridExportKwh],
      [R.totalKvarh, state.gridImportKwh * REACTIVE_SHARE],
    );
    return out;
  }
}
