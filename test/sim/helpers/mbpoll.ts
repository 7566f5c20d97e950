import { execFile } from 'node:child_process';

export interface MbpollResult {
  code: number;
  stdout: string;
  stderr: string;
  /** `[reference]: value` lines, by reference. */
  values: Map<number, string>;
}

/** Runs Debian's mbpoll (a libmodbus master) once and collects what it printed. */
export function mbpoll(args: string[]): Promise<MbpollResult> {
  return new Promise((resolve, reject) => {
    execFile('mbpoll', ['-1', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      const values = new Map<number, string>();
      for (const m of stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) values.set(Number(m[1]), m[2] ?? '');
      resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr, values });
    });
  });
}

/** Reads `count` 16-bit registers as raw words (`-t 3:hex` input, `-t 4:hex` holding), PDU addressing. */
export async function readWords(
  target: string[],
  table: 'input' | 'holding',
  address: number,
  count: number,
): Promise<number[]> {
  const r = await mbpoll([
    ...target,
    '-0',
    '-t',
    table === 'input' ? '3:hex' : '4:hex',
    '-r',
    String(address),
    '-c',
    String(count),
  ]);
  if (r.code !== 0) throw new Error(`mbpoll failed (${r.code}): ${r.stderr.trim()}`);
  return Array.from({ length: count }, (_, i) => {
    const v = r.values.get(address + i);
    if (v === undefined) throw new Error(`mbpoll printed no value for ${address + i}:\n${r.stdout}`);
    return Number.parseInt(v, 16);
  });
}

/** A float32 from two registers, high word first. */
export function float32(words: number[], at: number): number {
  const buf = Buffer.alloc(4);
  buf.writeUInt16BE(words[at] ?? 0, 0);
  buf.writeUInt16BE(words[at + 1] ?? 0, 2);
  return buf.readFloatBE(0);
}

export function ascii(words: number[]): string {
  const buf = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => {
    buf.writeUInt16BE(w, i * 2);
  });
  return buf.toString('latin1').replace(/\0+$/, '');
}

export const s16 = (w: number) => (w >= 0x8000 ? w - 0x10000 : w);
export const u32 = (words: number[], at: number) => (words[at] ?? 0) * 0x10000 + (words[at + 1] ?? 0);
