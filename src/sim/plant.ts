import { frequencyHz, houseLoadW, phaseVoltagesV, pvAvailableW } from './day.js';
import { hash01 } from './prng.js';

/** True values of the simulated home: what a correct reader of the inverter and meter must see. */
export interface SimTruth {
  pvPowerW: number;
  loadPowerW: number;
  gridPowerW: number;
  pvEnergyWh: number;
  gridImportWh: number;
  gridExportWh: number;
  gridVoltageV: number;
  gridFrequencyHz: number;
}

/** Everything the register images are drawn from at one simulated second. */
export interface PlantState {
  truth: SimTruth;
  simTimeMs: number;
  pvAvailableW: number;
  /** L1, L2, L3 to neutral; L1 is `truth.gridVoltageV`. */
  phaseVoltagesV: [number, number, number];
  /** Exact meter counters in kWh before float32 rounding. */
  gridImportKwh: number;
  gridExportKwh: number;
  /** The export limit is holding PV output below what the array could give. */
  throttled: boolean;
}

/** The inverter's immediate controls (SunSpec model 123) as the plant obeys them. */
export interface InverterControls {
  connected: boolean;
  /** Output cap in percent of the nameplate (kWp), obeyed while `limitEnabled`. */
  limitPct: number;
  limitEnabled: boolean;
  /** The limit switches itself off this many simulated seconds after it was set; 0 = never. */
  limitRevertS: number;
}

export interface PlantOptions {
  seed: number;
  pvKwp: number;
  clock: () => number;
  timeScale: number;
  /** Offset of the home's local time from UTC, minutes (the sun follows local time). */
  utcOffsetMin: number;
}

/**
 * The simulated home over time: maps the clock to simulated time, applies pins and inverter controls, and
 * integrates the energy counters in fixed simulated-time steps from the start, so the same seed and clock
 * give the same counters however often they are read. Nothing runs between reads.
 */
export class Plant {
  private readonly startClockMs: number;
  private readonly stepS: number;
  private integratedToS: number;
  private pvWh: number;
  private importWh: number;
  private exportWh: number;
  private pins: { pvPowerW?: number; loadPowerW?: number } = {};
  private controls: InverterControls = {
    connected: true,
    limitPct: 100,
    limitEnabled: false,
    limitRevertS: 0,
  };
  private limitSetAtS = 0;
  /** Bumped on every pin or control change so a cached state is never served after one. */
  private version = 0;
  private cached: { second: number; version: number; state: PlantState } | null = null;

  constructor(private readonly opts: PlantOptions) {
    if (!(opts.timeScale > 0)) throw new Error('timeScale must be > 0');
    if (!(opts.pvKwp > 0 && opts.pvKwp <= 30)) throw new Error('pvKwp must be > 0 and <= 30');
    this.startClockMs = opts.clock();
    // Under acceleration, integrate in coarser steps: at most ~100 steps per second of real time.
    this.stepS = Math.max(1, Math.floor(opts.timeScale / 100));
    this.integratedToS = Math.floor(this.startClockMs / 1000);
    this.pvWh = 8e6 + Math.floor(hash01(opts.seed, 100, 0) * 6e6);
    this.importWh = 6e6 + Math.floor(hash01(opts.seed, 101, 0) * 6e6);
    this.exportWh = 2e6 + Math.floor(hash01(opts.seed, 102, 0) * 4e6);
  }

  get pvKwp(): number {
    return this.opts.pvKwp;
  }

  simTimeMs(): number {
    return this.startClockMs + (this.opts.clock() - this.startClockMs) * this.opts.timeScale;
  }

  state(): PlantState {
    const nowMs = this.simTimeMs();
    const second = Math.floor(nowMs / 1000);
    this.advanceTo(second);
    if (this.cached?.second === second && this.cached.version === this.version) return this.cached.state;
    const p = this.powersAt(second);
    const importKwh = this.importWh / 1000;
    const exportKwh = this.exportWh / 1000;
    const state: PlantState = {
      truth: {
        pvPowerW: p.pvW,
        loadPowerW: p.loadW,
        gridPowerW: p.gridW,
        pvEnergyWh: Math.floor(this.pvWh),
        // The meter counts kWh in float32: a reader sees exactly these values.
        gridImportWh: Math.fround(importKwh) * 1000,
        gridExportWh: Math.fround(exportKwh) * 1000,
        gridVoltageV: Math.fround(p.voltages[0]),
        gridFrequencyHz: Math.fround(p.frequencyHz),
      },
      simTimeMs: nowMs,
      pvAvailableW: p.pvAvailableW,
      phaseVoltagesV: p.voltages,
      gridImportKwh: importKwh,
      gridExportKwh: exportKwh,
      throttled: p.pvW < p.pvAvailableW,
    };
    this.cached = { second, version: this.version, state };
    return state;
  }

  truth(): SimTruth {
    return { ...this.state().truth };
  }

  pin(values: { pvPowerW?: number; loadPowerW?: number }): void {
    for (const [k, v] of Object.entries(values)) {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new Error(`${k} must be a number >= 0`);
    }
    this.settle();
    if (values.pvPowerW !== undefined) this.pins.pvPowerW = Math.round(values.pvPowerW);
    if (values.loadPowerW !== undefined) this.pins.loadPowerW = Math.round(values.loadPowerW);
  }

  unpin(): void {
    this.settle();
    this.pins = {};
  }

  getControls(): InverterControls {
    this.advanceTo(Math.floor(this.simTimeMs() / 1000));
    return { ...this.controls };
  }

  setControls(next: InverterControls): void {
    this.settle();
    // Each write of the controls restarts the limit's revert timer, as on real inverters.
    this.limitSetAtS = Math.floor(this.simTimeMs() / 1000);
    this.controls = { ...next };
  }

  /** Integrates up to now under the old pins and controls before they change. */
  private settle(): void {
    this.advanceTo(Math.floor(this.simTimeMs() / 1000));
    this.version++;
  }

  private advanceTo(second: number): void {
    while (this.integratedToS + this.stepS <= second) {
      const p = this.powersAt(this.integratedToS);
      const hours = this.stepS / 3600;
      this.pvWh += p.pvW * hours;
      if (p.gridW > 0) this.importWh += p.gridW * hours;
      else this.exportWh -= p.gridW * hours;
      this.integratedToS += this.stepS;
    }
    this.expireLimit(second);
  }

  private expireLimit(second: number): void {
    const c = this.controls;
    if (c.limitEnabled && c.limitRevertS > 0 && second >= this.limitSetAtS + c.limitRevertS) {
      this.controls = { ...c, limitEnabled: false };
      this.version++;
    }
  }

  private powersAt(second: number) {
    this.expireLimit(second);
    const { seed, pvKwp, utcOffsetMin } = this.opts;
    const localS = second + utcOffsetMin * 60;
    const available = this.pins.pvPowerW ?? pvAvailableW(seed, pvKwp, localS);
    const c = this.controls;
    const capW = !c.connected
      ? 0
      : c.limitEnabled
        ? Math.round((pvKwp * 1000 * c.limitPct) / 100)
        : available;
    const pvW = Math.min(available, capW);
    const loadW = this.pins.loadPowerW ?? houseLoadW(seed, localS);
    const gridW = loadW - pvW;
    return {
      pvAvailableW: available,
      pvW,
      loadW,
      gridW,
      voltages: phaseVoltagesV(seed, localS, gridW),
      frequencyHz: frequencyHz(seed, localS),
    };
  }
}
