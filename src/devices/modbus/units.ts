import { isQuantityName, type QuantityName } from '../../core/quantities.js';

/**
 * Profiles state the unit a register holds (after its fixed `scale`); the loader turns it into the
 * canonical unit carried in the quantity name, so `unit: kWh` on `gridImportWh` multiplies by 1000.
 */
const UNIT_FACTORS: Record<string, Record<string, number>> = {
  Wh: { Wh: 1, kWh: 1000, MWh: 1_000_000 },
  W: { W: 1, kW: 1000 },
  V: { V: 1, kV: 1000, mV: 0.001 },
  Hz: { Hz: 1 },
  A: { A: 1, mA: 0.001 },
  '%': { '%': 1 },
  C: { C: 1 },
};

/** The canonical unit of a quantity, read from the end of its name (gridImportWh → Wh). */
function canonicalUnit(quantity: QuantityName): string {
  if (quantity.endsWith('Wh')) return 'Wh';
  if (quantity.endsWith('Hz')) return 'Hz';
  if (quantity.endsWith('Pct')) return '%';
  return quantity.slice(-1);
}

/** Factor from `unit` to the quantity's canonical unit, or an explanation of why there is none. */
export function unitFactor(quantity: QuantityName, unit: string): number | string {
  const canonical = canonicalUnit(quantity);
  const table = UNIT_FACTORS[canonical] ?? {};
  const factor = table[unit];
  if (factor !== undefined) return factor;
  return `${quantity} is in ${canonical}: the register unit must be one of ${Object.keys(table).join(', ')}`;
}

/** Targets are canonical quantities or `info.<name>` identity fields (manufacturer, model, serial...). */
export type Target = { quantity: QuantityName } | { info: string };

export function parseTarget(target: string): Target | undefined {
  if (isQuantityName(target)) return { quantity: target };
  const info = /^info\.([a-zA-Z][a-zA-Z0-9]*)$/.exec(target)?.[1];
  return info === undefined ? undefined : { info };
}
