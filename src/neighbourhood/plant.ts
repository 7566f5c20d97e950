import type { QuantityReading, Snapshot } from '../core/quantities.js';
import { houseLoadW, pvAvailableW, SUNRISE_H, SUNSET_H } from '../sim/day.js';

/**
 * One simulated home's electricity: a seeded PV array (or none), the household's consumption and the
 * flexible loads the engine switches, seen through a grid meter. Power is a pure function of the time
 * and the relays; the meter counters integrate it in fixed steps, also while the controller is down
 * (the meter keeps counting whatever the software does).
 */
export interface PlantSpec {
  /** Seed of the household and the weather. */
  seed: number;
  /** 0: no PV. */
  pvKwp: number;
  /** Relays with their load. */
  flexLoads: readonly { id: string; powerW: number }[];
  /** A cloudless sky (the benchmark's sunny midday). */
  clearSky: boolean;
}

export type MeterFault = 'stale' | 'fault';

/** Counters advance in steps of at most this. */
const STEP_MS = 5_000;
const HOUR_MS = 3_600_000;
const PERFORMANCE_RATIO = 0.8;

export class HomePlant {
  private integratedTo: number;
  private importWh: number;
  private exportWh: number;
  private readonly relays = new Map<string, boolean>();
  private meter: { kind: MeterFault; until: number } | null = null;
  private lastGoodTs: number;
  private lastGood = { gridPowerW: 0, importWh: 0, exportWh: 0 };

  constructor(
    readonly spec: PlantSpec,
    start: number,
  ) {
    this.integratedTo = start;
    this.lastGoodTs = start;
    // Counters of a meter that has been in service for a while.
    this.importWh = 2_000_000 + (spec.seed % 1000) * 1000;
    this.exportWh = 500_000 + (spec.seed % 777) * 1000;
  }

  pvW(t: number): number {
    if (this.spec.pvKwp <= 0) return 0;
    const localS = t / 1000;
    if (!this.spec.clearSky) return pvAvailableW(this.spec.seed, this.spec.pvKwp, localS);
    const h = (localS % 86_400) / 3600;
    if (h <= SUNRISE_H || h >= SUNSET_H) return 0;
    const x = (h - SUNRISE_H) / (SUNSET_H - SUNRISE_H);
    return Math.round(this.spec.pvKwp * 1000 * PERFORMANCE_RATIO * Math.sin(Math.PI * x) ** 2);
  }

  /** Household consumption plus the flexible loads that are on, W. */
  loadW(t: number): number {
    let w = houseLoadW(this.spec.seed, t / 1000);
    for (const l of this.spec.flexLoads) if (this.relays.get(l.id) === true) w += l.powerW;
    return w;
  }

  /** + import, − export. */
  gridW(t: number): number {
    return this.loadW(t) - this.pvW(t);
  }

  setRelay(id: string, on: boolean): void {
    this.relays.set(id, on);
  }

  /** The process died: relays drop to their safe state. */
  allOff(): void {
    this.relays.clear();
  }

  loadsOn(): string[] {
    return this.spec.flexLoads.filter((l) => this.relays.get(l.id) === true).map((l) => l.id);
  }

  failMeter(kind: MeterFault, until: number): void {
    this.meter = { kind, until };
  }

  clearMeterFault(): void {
    this.meter = null;
  }

  /** Integrates the counters up to `to` (the power of each step is the power at its start). */
  advance(to: number): void {
    while (this.integratedTo < to) {
      const dt = Math.min(STEP_MS, to - this.integratedTo);
      const w = this.gridW(this.integratedTo);
      if (w >= 0) this.importWh += (w * dt) / HOUR_MS;
      else this.exportWh += (-w * dt) / HOUR_MS;
      this.integratedTo += dt;
    }
  }

  /** What the home's devices read at `now`, after advancing the counters to it. */
  snapshot(now: number, cycle: number): Snapshot {
    this.advance(now);
    if (this.meter !== null && now >= this.meter.until) this.meter = null;
    const pv = this.pvW(now);
    const load = this.loadW(now);
    const grid = load - pv;
    const meterOk = this.meter === null;
    if (meterOk) {
      this.lastGoodTs = now;
      this.lastGood = { gridPowerW: grid, importWh: round3(this.importWh), exportWh: round3(this.exportWh) };
    }
    const good = (value: number, source: string): QuantityReading => ({
      value,
      quality: 'good',
      ts: now,
      source,
    });
    const meter = (value: number): QuantityReading =>
      meterOk
        ? good(value, 'grid-meter')
        : {
            value: this.meter?.kind === 'stale' ? value : null,
            quality: this.meter?.kind ?? 'fault',
            ts: this.lastGoodTs,
            source: 'grid-meter',
          };
    return {
      cycle,
      ts: now,
      quantities: {
        pvPowerW: good(pv, 'inverter'),
        loadPowerW: good(load, 'derived'),
        gridPowerW: meter(this.lastGood.gridPowerW),
        gridImportWh: meter(this.lastGood.importWh),
        gridExportWh: meter(this.lastGood.exportWh),
      },
    };
  }

  /** The true counters (for the report). */
  counters(): { importWh: number; exportWh: number } {
    return { importWh: this.importWh, exportWh: this.exportWh };
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
