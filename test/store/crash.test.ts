import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { openStore } from '../../src/store/index.js';
import { scale, timeoutFor } from '../helpers/long.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from './helpers.js';

const KILLS = scale(24, 300);
const WRITER = new URL('./fixtures/crash-writer.ts', import.meta.url).pathname;

interface Round {
  child: ChildProcess;
  out: string;
  exited: Promise<void>;
}

function startWriter(path: string): Round {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const round: Round = { child, out: '', exited: new Promise((r) => child.once('exit', () => r())) };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    round.out += d;
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  child.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL') round.out += `\nEXIT ${code} ${signal} ${err}`;
  });
  return round;
}

describe('crash safety under SIGKILL', () => {
  const tmp = tempDir();
  const path = tmp.path('crash.db');
  let running: Round | undefined;

  afterEach(async () => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
    running = undefined;
  });
  afterAll(() => tmp.cleanup());

  it(
    `loses no committed row and never reuses a seq over ${KILLS} kills`,
    async () => {
      const committed = new Map<string, number>();
      const maybeAcked = new Set<string>();
      let maxSeq = 0;
      let lastPeek = 0;
      for (let k = 0; k < KILLS; k++) {
        const round = startWriter(path);
        running = round;
        await waitFor(
          () => round.out.includes('ready') || round.out.includes('EXIT'),
          30_000,
          'writer ready',
        );
        expect(round.out).not.toContain('EXIT');
        const ready = Number(/ready (\d+)/.exec(round.out)?.[1]);
        expect(ready).toBeGreaterThanOrEqual(lastPeek);
        expect(ready).toBeGreaterThan(maxSeq);
        // Let it commit a varying amount of work, then kill it wherever it is.
        const lines = 20 + Math.floor(Math.random() * 400);
        await waitFor(
          () => round.out.split('\n').length > lines || round.out.includes('EXIT'),
          30_000,
          'commits',
        );
        await new Promise((r) => setTimeout(r, Math.random() * 20));
        round.child.kill('SIGKILL');
        await round.exited;
        expect(round.out).not.toContain('EXIT');

        // Only complete lines count: the last one may have been cut by the kill.
        for (const line of round.out.split('\n').slice(0, -1)) {
          const [kind, ...rest] = line.split(' ');
          if (kind === 'C') {
            for (const item of rest) {
              const [id, seq] = item.split(':') as [string, string];
              expect(Number(seq)).toBeGreaterThan(maxSeq);
              maxSeq = Number(seq);
              committed.set(id, maxSeq);
            }
          } else if (kind === 'I') for (const id of rest) maybeAcked.add(id);
        }

        const store = openStore({ path, log: silentLogger() });
        try {
          expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
          const counts = new Map<string, number>();
          for (const { msg_id } of store.db.prepare('SELECT msg_id FROM outbox').iterate() as Iterable<{
            msg_id: string;
          }>) {
            counts.set(msg_id, (counts.get(msg_id) ?? 0) + 1);
          }
          for (const [id, n] of counts) expect(n, id).toBe(1);
          for (const id of committed.keys()) {
            if (!maybeAcked.has(id)) expect(counts.get(id), `committed ${id} lost`).toBe(1);
          }
          const st = store.outbox.stats(Date.now());
          expect(st.rows).toBe(counts.size);
          expect(st.sent).toBeGreaterThan(0);
          lastPeek = store.seq.peek();
          expect(lastPeek).toBeGreaterThan(maxSeq);
          expect(store.readings.latest()).toBeDefined();
        } finally {
          store.close();
        }
      }
      expect(committed.size).toBeGreaterThan(KILLS * 20);
    },
    timeoutFor(240_000, 2_400_000),
  );
});
