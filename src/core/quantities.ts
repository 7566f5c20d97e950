/**
 * Canonical quantities, the names every device, snapshot, telemetry message and page share. The unit is
 * part of the name so a value can never be read in the wrong unit. Sign conventions: gridPowerW is
 * + import / − export; batteryPowerW is + discharge.
 */
export const QUANTITY_NAMES = [
  'pvPowerW',
  'pvEnergyWh',
  'gridPowerW',
  'gridImportWh',
  'gridExportWh',
  'gridVoltageV',
  'gridFrequencyHz',
  'loadPowerW',
  'batteryPowerW',
  'batterySocPct',
  'dcVoltageV',
  'dcCurrentA',
  'enclosureTempC',
] as const;

export type QuantityName = (typeof QUANTITY_NAMES)[number];

export function isQuantityName(name: string): name is QuantityName {
  return (QUANTITY_NAMES as readonly string[]).includes(name);
}

/** `stale`: the last good value is older than its max age. `fault`: no usable value at all. */
export type Quality = 'good' | 'stale' | 'fault';

/** What one device read produced: canonical values only, all of them good at `ts`. */
export type QuantityValues = Partial<Record<QuantityName, number>>;

export interface QuantityReading {
  /** Last good value, or null if there never was one. Never use it as good unless quality is good. */
  value: number | null;
  quality: Quality;
  /** Epoch ms of the last good value (0 if none). */
  ts: number;
  /** Device id the value came from ('derived' for computed quantities). */
  source: string;
}

/** A frozen view of the home at the end of one cycle's reads. */
export interface Snapshot {
  cycle: number;
  ts: number;
  quantities: Partial<Record<QuantityName, QuantityReading>>;
}
