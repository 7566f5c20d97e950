import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../helpers/ports.js';

export interface PtyPair {
  /** The simulator's end. */
  a: string;
  /** The master's end. */
  b: string;
  stop(): Promise<void>;
}

/** A real serial line: two ptys joined by socat, as links `A` and `B` in `dir`. */
export async function startPtyPair(dir: string): Promise<PtyPair> {
  const a = join(dir, 'A');
  const b = join(dir, 'B');
  const child: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitFor(() => existsSync(a) && existsSync(b), 10_000, 'socat pty links');
  } catch (err) {
    await stop();
    throw err;
  }
  return { a, b, stop };
}
