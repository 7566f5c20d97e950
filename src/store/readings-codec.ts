import { QUANTITY_NAMES, type Quality, type QuantityReading, type Snapshot } from '../core/quantities.js';

/**
 * Packs one snapshot into one small blob (one row per cycle instead of one row per quantity):
 *
 *   u8 format (1) | u8 sourceCount | sourceCount × (u8 length, utf8 name) | u32le presence mask over
 *   QUANTITY_NAMES | per present quantity: u8 flags, u8 source index, value, ts
 *
 * flags: bits 0-1 quality; bit 2 has value; bit 3 value is f32 (exact), else f64; bits 4-5 ts mode:
 * 0 = same as the snapshot, 1 = u32le age in ms before the snapshot, 2 = none (0), 3 = f64 absolute.
 * The source names travel with the row, so a row never depends on another table.
 */
const FORMAT = 1;
const QUALITIES: readonly Quality[] = ['good', 'stale', 'fault'];
const HAS_VALUE = 1 << 2;
const VALUE_F32 = 1 << 3;
const TS_SAME = 0;
const TS_AGE = 1;
const TS_NONE = 2;
const TS_ABSOLUTE = 3;
const MAX_AGE = 0xffff_ffff;

export function encodeSnapshot(s: Snapshot): Buffer {
  const sources: string[] = [];
  const present: [number, QuantityReading][] = [];
  QUANTITY_NAMES.forEach((name, i) => {
    const q = s.quantities[name];
    if (q === undefined) return;
    present.push([i, q]);
    if (!sources.includes(q.source)) sources.push(q.source);
  });
  const names = sources.map((n) => Buffer.from(n, 'utf8').subarray(0, 255));
  const size = 2 + names.reduce((a, n) => a + 1 + n.length, 0) + 4 + present.length * (2 + 8 + 8);
  const buf = Buffer.allocUnsafe(size);
  let o = buf.writeUInt8(FORMAT, 0);
  o = buf.writeUInt8(names.length, o);
  for (const n of names) {
    o = buf.writeUInt8(n.length, o);
    o += n.copy(buf, o);
  }
  let mask = 0;
  for (const [i] of present) mask |= 1 << i;
  o = buf.writeUInt32LE(mask >>> 0, o);
  for (const [, q] of present) {
    const age = s.ts - q.ts;
    const tsMode =
      q.ts === 0
        ? TS_NONE
        : age === 0
          ? TS_SAME
          : Number.isInteger(age) && age > 0 && age <= MAX_AGE
            ? TS_AGE
            : TS_ABSOLUTE;
    const f32 = q.value !== null && Math.fround(q.value) === q.value;
    const flags =
      Math.max(0, QUALITIES.indexOf(q.quality)) |
      (q.value !== null ? HAS_VALUE : 0) |
      (f32 ? VALUE_F32 : 0) |
      (tsMode << 4);
    o = buf.writeUInt8(flags, o);
    o = buf.writeUInt8(sources.indexOf(q.source), o);
    if (q.value !== null) o = f32 ? buf.writeFloatLE(q.value, o) : buf.writeDoubleLE(q.value, o);
    if (tsMode === TS_AGE) o = buf.writeUInt32LE(age, o);
    else if (tsMode === TS_ABSOLUTE) o = buf.writeDoubleLE(q.ts, o);
  }
  return buf.subarray(0, o);
}

export function decodeSnapshot(ts: number, cycle: number, data: Buffer): Snapshot {
  const format = data.readUInt8(0);
  if (format !== FORMAT) throw new Error(`readings: unknown row format ${format}`);
  let o = 1;
  const sourceCount = data.readUInt8(o++);
  const sources: string[] = [];
  for (let i = 0; i < sourceCount; i++) {
    const len = data.readUInt8(o++);
    sources.push(data.toString('utf8', o, o + len));
    o += len;
  }
  const mask = data.readUInt32LE(o);
  o += 4;
  const quantities: Snapshot['quantities'] = {};
  QUANTITY_NAMES.forEach((name, i) => {
    if ((mask & (1 << i)) === 0) return;
    const flags = data.readUInt8(o++);
    const source = sources[data.readUInt8(o++)] ?? '?';
    let value: number | null = null;
    if (flags & HAS_VALUE) {
      value = flags & VALUE_F32 ? data.readFloatLE(o) : data.readDoubleLE(o);
      o += flags & VALUE_F32 ? 4 : 8;
    }
    const tsMode = (flags >> 4) & 3;
    let qts = ts;
    if (tsMode === TS_NONE) qts = 0;
    else if (tsMode === TS_AGE) {
      qts = ts - data.readUInt32LE(o);
      o += 4;
    } else if (tsMode === TS_ABSOLUTE) {
      qts = data.readDoubleLE(o);
      o += 8;
    }
    quantities[name] = { value, quality: QUALITIES[flags & 3] ?? 'fault', ts: qts, source };
  });
  return { cycle, ts, quantities };
}
