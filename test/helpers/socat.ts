import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './ports.js';

/** A socat process giving a real serial path (a pty) to tests; close() kills it and removes the links. */
export interface SocatLink {
  /** The pty the code under test opens. */
  a: string;
  /** The other end: a second pty for a pty pair; undefined when bridged to TCP. */
  b?: string;
  close(): Promise<void>;
}

async function startSocat<L extends SocatLink>(
  args: (dir: string) => string[],
  links: (dir: string) => string[],
): Promise<L> {
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-pty-'));
  const child: ChildProcess = spawn('socat', ['-d', '-d', ...args(dir)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`socat exited: ${stderr}`);
        return links(dir).every((l) => existsSync(l));
      },
      10_000,
      'socat pty links',
      20,
    );
  } catch (err) {
    await close();
    throw err;
  }
  const [a, b] = links(dir) as [string, string | undefined];
  return { a, ...(b === undefined ? {} : { b }), close } as L;
}

/** Two serial ends wired to each other: both are ptys. */
export interface PtyPair extends SocatLink {
  b: string;
}

/** `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`: two serial ends wired to each other. */
export function startPtyPair(): Promise<PtyPair> {
  return startSocat(
    (dir) => [`pty,raw,echo=0,link=${join(dir, 'a')}`, `pty,raw,echo=0,link=${join(dir, 'b')}`],
    (dir) => [join(dir, 'a'), join(dir, 'b')],
  );
}

/** A pty whose bytes go to and from a TCP server on 127.0.0.1 (a serial device simulated over TCP). */
export function startPtyToTcp(port: number): Promise<SocatLink> {
  return startSocat(
    (dir) => [`pty,raw,echo=0,link=${join(dir, 'a')}`, `tcp:127.0.0.1:${port}`],
    (dir) => [join(dir, 'a')],
  );
}
