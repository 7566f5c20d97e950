import { createHash } from 'node:crypto';

const MAX_MS = 2 ** 48 - 1;

/**
 * A deterministic UUIDv7: the 48-bit time is `now`, the other bits come from a hash of (home, counter).
 * The counter lives in the durable state and grows with every id, so ids never repeat for one home and the
 * same state and inputs always produce the same ids (the simulation replays runs from a seed).
 */
export function engineId(homeId: string, counter: number, now: number): string {
  const ms = Number.isFinite(now) ? Math.min(Math.max(Math.floor(now), 0), MAX_MS) : 0;
  const hash = createHash('sha256').update(`${homeId}\n${counter}`).digest();
  const b = Buffer.allocUnsafe(16);
  b.writeUIntBE(ms, 0, 6);
  hash.copy(b, 6, 0, 10);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
