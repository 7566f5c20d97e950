import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { waitFor } from '../helpers/ports.js';
import { type PtyPair, startPtyPair } from '../helpers/socat.js';
import { float32, mbpoll, readWords } from './helpers/mbpoll.js';

interface Running {
  child: ChildProcessWithoutNullStreams;
  events: Array<Record<string, unknown>>;
  stderr: string[];
  exit: Promise<number | null>;
  send(line: string): void;
  next(event: string, after?: number): Promise<Record<string, unknown>>;
}

const children: ChildProcessWithoutNullStreams[] = [];
let line: PtyPair | undefined;

function runSim(args: string[]): Running {
  const child = spawn(process.execPath, [...CLI, 'sim', ...args], { stdio: 'pipe' });
  children.push(child);
  const events: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) =>
    events.push(JSON.parse(l) as Record<string, unknown>),
  );
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    events,
    stderr,
    exit,
    send: (l) => child.stdin.write(`${l}\n`),
    next: (event, after = 0) =>
      waitFor(() => events.slice(after).find((e) => e.event === event), 30_000, `a "${event}" line`),
  };
}

beforeAll(async () => {
  line = await startPtyPair();
});
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await line?.close();
});

describe('powerdeal sim', () => {
  it('listens, takes faults and pins on stdin, answers mbpoll, and stops cleanly on SIGTERM', async () => {
    const sim = runSim(['--tcp', '0', '--rtu', line!.a, '--seed', '5', '--fault', '2:silence']);
    const listening = await sim.next('listening');
    const port = (listening.tcp as { port: number }).port;
    expect(port).toBeGreaterThan(0);
    expect(listening.faults).toEqual({ 1: 'none', 2: 'silence' });
    const tcp = (unit: number, timeoutS = '2') => [
      '-m',
      'tcp',
      '-p',
      String(port),
      '-a',
      String(unit),
      '-o',
      timeoutS,
      '127.0.0.1',
    ];

    const silent = await mbpoll([...tcp(2, '0.5'), '-0', '-t', '3:hex', '-r', '52', '-c', '2']);
    expect(silent.stderr).toMatch(/Connection timed out/);

    let seen = sim.events.length;
    sim.send('fault 2 exception');
    expect((await sim.next('fault', seen)).faults).toEqual({ 1: 'none', 2: 'exception' });
    const failing = await mbpoll([...tcp(2), '-0', '-t', '3:hex', '-r', '52', '-c', '2']);
    expect(failing.stderr).toMatch(/Slave device or server failure/);

    seen = sim.events.length;
    sim.send('fault all none');
    await sim.next('fault', seen);
    sim.send('pin pv 3000');
    sim.send('pin load 1000');
    sim.send('status');
    const status = await sim.next('status', seen);
    expect(status).toMatchObject({
      pvPowerW: 3000,
      loadPowerW: 1000,
      gridPowerW: -2000,
      exportLimitPct: null,
    });
    expect(float32(await readWords(tcp(2), 'input', 0x34, 2), 0)).toBe(-2000);
    // The same bus is on the serial line too.
    const rtu = ['-m', 'rtu', '-b', '9600', '-P', 'none', '-a', '1', '-o', '2', line!.b];
    expect((await readWords(rtu, 'holding', 40083, 1))[0]).toBe(3000);

    seen = sim.events.length;
    sim.send('fault 2 melt');
    expect((await sim.next('error', seen)).message).toMatch(/fault must be one of/);

    sim.child.kill('SIGTERM');
    expect(await sim.exit).toBe(0);
    expect(sim.events.at(-1)).toEqual({ event: 'stopped', reason: 'SIGTERM' });
  });

  it('stops on "quit" from stdin', async () => {
    const sim = runSim(['--tcp', '127.0.0.1:0']);
    await sim.next('listening');
    sim.send('quit');
    expect(await sim.exit).toBe(0);
    expect(sim.events.at(-1)).toEqual({ event: 'stopped', reason: 'quit' });
  });

  it('exits 2 on bad flags and 1 when it cannot listen', async () => {
    for (const args of [
      [],
      ['--tcp', '0', '--fault', '2:melt'],
      ['--tcp', '0', '--meter-unit', '1'],
      ['--tcp', 'x'],
    ]) {
      const sim = runSim(args);
      expect(await sim.exit, args.join(' ')).toBe(2);
      expect(sim.stderr.join('\n'), args.join(' ')).toMatch(/powerdeal: --|powerdeal: give at least one/);
    }
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const address = taken.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const sim = runSim(['--tcp', String(address.port)]);
      expect(await sim.exit).toBe(1);
      expect(sim.stderr.join('\n')).toMatch(/cannot start the simulator: .*EADDRINUSE/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
