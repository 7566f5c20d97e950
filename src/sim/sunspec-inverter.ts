import { VERSION } from '../core/version.js';
import { EXCEPTION, readBlocks, type SimUnit } from './modbus-pdu.js';
import type { Plant, PlantState } from './plant.js';
import { NOT_IMPLEMENTED, Words } from './words.js';

/**
 * A three-phase PV inverter speaking SunSpec over holding registers: the `SunS` marker at the base
 * address, then model 1 (common), model 103 (three-phase inverter), model 123 (immediate controls,
 * writable) and the end marker. Offsets below are relative to the base.
 */
const SUNSPEC_LAYOUT = {
  marker: 0,
  common: { header: 2, id: 1, length: 65 },
  inverter: { header: 69, id: 103, length: 50 },
  controls: { header: 121, id: 123, length: 24 },
  end: 147,
  total: 149,
} as const;

/** Scale factors (powers of ten) this inverter publishes in its models. */
const SUNSPEC_SF = {
  A: -2,
  V: -1,
  W: 0,
  Hz: -2,
  VA: 0,
  VAr: 0,
  PF: -1,
  WH: 0,
  DCA: -2,
  DCV: -1,
  DCW: 0,
  Tmp: -1,
  WMaxLimPct: -2,
} as const;

/** SunSpec operating states (model 103 `St`). */
const ST = { sleeping: 2, mppt: 4, throttled: 5, standby: 8 } as const;

/** Model 123 register offsets within its body. */
const M123 = {
  conn: 2,
  wMaxLimPct: 3,
  revert: 5,
  enable: 7,
  outPfEnable: 12,
  varPctEnable: 20,
  firstSf: 21,
} as const;

/** The register value for `value` under scale factor `sf` (value = register × 10^sf). */
const scaled = (value: number, sf: number) => (sf < 0 ? value * 10 ** -sf : value / 10 ** sf);
const unscaled = (register: number, sf: number) => (sf < 0 ? register / 10 ** -sf : register * 10 ** sf);

const MODEL_1 = SUNSPEC_LAYOUT.common.header + 2;
const MODEL_103 = SUNSPEC_LAYOUT.inverter.header + 2;
const MODEL_123 = SUNSPEC_LAYOUT.controls.header + 2;

export class SunSpecInverter implements SimUnit {
  /** Measurement registers read "not implemented", as an inverter with a failed measurement board does. */
  nan = false;
  /** Model 123 registers the plant does not act on, kept as written. */
  private readonly controlWords: Uint16Array;
  private cache: { state: PlantState; nan: boolean; words: Uint16Array } | null = null;

  constructor(
    private readonly plant: Plant,
    private readonly base: number,
    private readonly unitId: number,
    private readonly serial: string,
  ) {
    const w = new Words(SUNSPEC_LAYOUT.controls.length);
    w.u16(M123.conn, 1);
    w.u16(M123.wMaxLimPct, scaled(100, SUNSPEC_SF.WMaxLimPct));
    w.s16(8, 1000); // OutPFSet 1.000
    for (const o of [13, 14, 15]) w.u16(o, NOT_IMPLEMENTED.s16); // VAr percentages: not supported
    w.s16(21, SUNSPEC_SF.WMaxLimPct);
    w.s16(22, -3); // OutPFSet_SF
    w.s16(23, -1); // VArPct_SF
    this.controlWords = w.data;
  }

  readHolding(address: number, count: number): Uint16Array | number {
    return readBlocks([{ start: this.base, words: this.image() }], address, count);
  }

  readInput(): number {
    return EXCEPTION.illegalDataAddress;
  }

  writeHolding(address: number, values: number[]): number | null {
    const from = address - (this.base + MODEL_123);
    if (from < 0 || from + values.length > M123.firstSf) return EXCEPTION.illegalDataAddress;
    const next = this.controlRegisters();
    next.set(values, from);
    const onOff = [M123.conn, M123.enable, M123.outPfEnable, M123.varPctEnable];
    if (onOff.some((o) => (next[o] ?? 0) > 1)) return EXCEPTION.illegalDataValue;
    if ((next[M123.wMaxLimPct] ?? 0) > scaled(100, SUNSPEC_SF.WMaxLimPct)) return EXCEPTION.illegalDataValue;
    this.controlWords.set(next);
    this.plant.setControls({
      connected: next[M123.conn] === 1,
      limitPct: unscaled(next[M123.wMaxLimPct] ?? 0, SUNSPEC_SF.WMaxLimPct),
      limitEnabled: next[M123.enable] === 1,
      limitRevertS: next[M123.revert] ?? 0,
    });
    return null;
  }

  /** Model 123 as stored, with the fields the plant owns (a limit can revert by itself) taken from it. */
  private controlRegisters(): Uint16Array {
    const c = this.plant.getControls();
    const words = Uint16Array.from(this.controlWords);
    words[M123.conn] = c.connected ? 1 : 0;
    words[M123.wMaxLimPct] = Math.round(scaled(c.limitPct, SUNSPEC_SF.WMaxLimPct));
    words[M123.revert] = c.limitRevertS;
    words[M123.enable] = c.limitEnabled ? 1 : 0;
    return words;
  }

  private image(): Uint16Array {
    const state = this.plant.state();
    if (this.cache?.state === state && this.cache.nan === this.nan) return this.cache.words;
    const w = new Words(SUNSPEC_LAYOUT.total);
    w.string(SUNSPEC_LAYOUT.marker, 2, 'SunS');
    for (const m of [SUNSPEC_LAYOUT.common, SUNSPEC_LAYOUT.inverter, SUNSPEC_LAYOUT.controls]) {
      w.u16(m.header, m.id);
      w.u16(m.header + 1, m.length);
    }
    w.string(MODEL_1, 16, 'Powerdeal');
    w.string(MODEL_1 + 16, 16, 'PD-SIM-3P');
    w.string(MODEL_1 + 40, 8, VERSION);
    w.string(MODEL_1 + 48, 16, this.serial);
    w.u16(MODEL_1 + 64, this.unitId);
    this.writeInverterModel(w, state);
    w.data.set(this.controlRegisters(), MODEL_123);
    w.u16(SUNSPEC_LAYOUT.end, 0xffff);
    w.u16(SUNSPEC_LAYOUT.end + 1, 0);
    this.cache = { state, nan: this.nan, words: w.data };
    return w.data;
  }

  private writeInverterModel(w: Words, state: PlantState): void {
    const o = MODEL_103;
    const sf = SUNSPEC_SF;
    const pv = state.truth.pvPowerW;
    const [va, vb, vc] = state.phaseVoltagesV;
    const lineToLine = (x: number, y: number) => Math.sqrt(x * x + y * y + x * y);
    const phaseA = [va, vb, vc].map((v) => pv / 3 / v);
    const dcV = pv > 0 ? 600 - pv / 200 : 0;
    const dcW = Math.round(pv / 0.97);
    const cabinetC = 25 + pv / 250;

    const sfs: Array<[number, number]> = [
      [4, sf.A],
      [11, sf.V],
      [13, sf.W],
      [15, sf.Hz],
      [17, sf.VA],
      [19, sf.VAr],
      [21, sf.PF],
      [24, sf.WH],
      [26, sf.DCA],
      [28, sf.DCV],
      [30, sf.DCW],
      [35, sf.Tmp],
    ];
    for (const [at, f] of sfs) w.s16(o + at, f);
    const controls = this.plant.getControls();
    const st = !controls.connected
      ? ST.standby
      : state.throttled
        ? ST.throttled
        : state.pvAvailableW === 0
          ? ST.sleeping
          : ST.mppt;
    w.u16(o + 36, st);

    if (this.nan) {
      for (const at of [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 14, 25, 27]) w.u16(o + at, NOT_IMPLEMENTED.u16);
      for (const at of [12, 16, 18, 20, 29, 31, 32, 33, 34]) w.u16(o + at, NOT_IMPLEMENTED.s16);
      w.u32(o + 22, NOT_IMPLEMENTED.acc32);
      return;
    }
    w.u16(
      o + 0,
      scaled(
        phaseA.reduce((a, b) => a + b, 0),
        sf.A,
      ),
    );
    for (const [i, a] of phaseA.entries()) w.u16(o + 1 + i, scaled(a, sf.A));
    w.u16(o + 5, scaled(lineToLine(va, vb), sf.V));
    w.u16(o + 6, scaled(lineToLine(vb, vc), sf.V));
    w.u16(o + 7, scaled(lineToLine(vc, va), sf.V));
    for (const [i, v] of [va, vb, vc].entries()) w.u16(o + 8 + i, scaled(v, sf.V));
    w.s16(o + 12, scaled(pv, sf.W));
    w.u16(o + 14, scaled(state.truth.gridFrequencyHz, sf.Hz));
    w.s16(o + 16, scaled(pv, sf.VA));
    w.s16(o + 18, 0);
    w.s16(o + 20, scaled(100, sf.PF));
    w.u32(o + 22, scaled(state.truth.pvEnergyWh, sf.WH));
    w.u16(o + 25, dcV > 0 ? scaled(dcW / dcV, sf.DCA) : 0);
    w.u16(o + 27, scaled(dcV, sf.DCV));
    w.s16(o + 29, scaled(dcW, sf.DCW));
    w.s16(o + 31, scaled(cabinetC, sf.Tmp));
    w.s16(o + 32, scaled(cabinetC + 5, sf.Tmp));
    w.u16(o + 33, NOT_IMPLEMENTED.s16);
    w.u16(o + 34, NOT_IMPLEMENTED.s16);
  }
}
