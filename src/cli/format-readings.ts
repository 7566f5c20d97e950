import type { QuantityName, QuantityReading, Snapshot } from '../core/quantities.js';
import type { DeviceHealth } from '../devices/device.js';
import { dim, green, red, table, yellow } from './output.js';

const UNIT_SUFFIX: [RegExp, string][] = [
  [/Wh$/, 'Wh'],
  [/W$/, 'W'],
  [/V$/, 'V'],
  [/Hz$/, 'Hz'],
  [/A$/, 'A'],
  [/Pct$/, '%'],
  [/C$/, '°C'],
];

function unitOf(name: QuantityName): string {
  return UNIT_SUFFIX.find(([re]) => re.test(name))?.[1] ?? '';
}

const colourQuality = (q: string) => (q === 'good' ? green(q) : q === 'stale' ? yellow(q) : red(q));

function age(ts: number, now: number): string {
  if (ts === 0) return '-';
  const s = (now - ts) / 1000;
  return s < 60
    ? `${s.toFixed(1)} s`
    : s < 3600
      ? `${(s / 60).toFixed(1)} min`
      : `${(s / 3600).toFixed(1)} h`;
}

function value(r: QuantityReading): string {
  if (r.value === null) return '-';
  return Math.abs(r.value) >= 100 ? r.value.toFixed(0) : r.value.toFixed(2);
}

export function readingsTable(snapshot: Snapshot, now: number): string {
  const rows = (Object.entries(snapshot.quantities) as [QuantityName, QuantityReading][]).map(([name, r]) => [
    name,
    value(r),
    unitOf(name),
    colourQuality(r.quality),
    age(r.ts, now),
    dim(r.source),
  ]);
  return `${table(['quantity', 'value', 'unit', 'quality', 'age', 'source'], rows)}\n${dim(`cycle ${snapshot.cycle} at ${new Date(snapshot.ts).toISOString()}`)}`;
}

export function devicesTable(devices: DeviceHealth[], now: number): string {
  const rows = devices.map((d) => [
    d.id,
    d.profile,
    d.state === 'ok' ? green('ok') : d.state === 'fault' ? red('fault') : yellow(d.state),
    d.breaker,
    d.latencyMs === null ? '-' : `${d.latencyMs.toFixed(0)} ms`,
    d.lastSuccessTs === null ? 'never' : age(d.lastSuccessTs, now),
    String(d.consecutiveFailures),
    d.transport,
    d.lastError ?? '',
  ]);
  return table(
    ['device', 'profile', 'state', 'breaker', 'latency', 'last ok', 'fails', 'transport', 'last error'],
    rows,
  );
}
