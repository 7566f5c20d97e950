import { randomFillSync } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, then randomness. The 12-bit `rand_a` field is a counter
 * seeded at random each millisecond (RFC 9562 §6.2 method 1), so ids made by this process sort in creation
 * order even within one millisecond, and a clock step backwards never produces an id lower than the last.
 */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const pool = Buffer.alloc(4096);
let poolPos = pool.length;
let lastMs = -1;
let counter = 0;

function randomBytes(n: number): Buffer {
  if (poolPos + n > pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const out = pool.subarray(poolPos, poolPos + n);
  poolPos += n;
  return out;
}

export function uuidv7(nowMs: number = Date.now()): string {
  const rand = randomBytes(10);
  let ms = Math.max(Math.floor(nowMs), lastMs);
  if (ms > lastMs) {
    counter = ((rand[8]! << 8) | rand[9]!) & 0x7ff; // top bit clear: room to count up within the ms
  } else if (++counter > 0xfff) {
    ms += 1;
    counter = 0;
  }
  lastMs = ms;
  const b = Buffer.allocUnsafe(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (rand[0]! & 0x3f);
  rand.copy(b, 9, 1, 8);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function isUuidV7(s: string): boolean {
  return UUID_V7.test(s);
}

/** The creation time written in a UUIDv7, in epoch ms. */
export function uuidv7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
