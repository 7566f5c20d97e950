import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutboxClass } from '../../src/store/outbox-types.js';
import { scale, timeoutFor } from '../helpers/long.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import {
  countingReport,
  type Produced,
  printReport,
  type Receiver,
  retainedStatus,
  startReceiver,
  type TempStore,
  tempStore,
} from './helpers.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/link-controller.ts');
const KILLS = scale(20, 200);

interface Run {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

function runController(db: string, broker: string, produced: Produced[], extra: string[] = []): Run {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', FIXTURE, '--db', db, '--broker', broker, '--total', '6000', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let buf = '';
  let readyResolve: () => void;
  const ready = new Promise<void>((r) => {
    readyResolve = r;
  });
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'READY') readyResolve();
      const m = /^C (\S+) (\S+)$/.exec(line);
      if (m) produced.push({ id: m[1]!, class: m[2] as OutboxClass });
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, ready, exited };
}

describe('SIGKILL of the controller while it publishes', () => {
  let broker: Mosquitto;
  let receiver: Receiver;
  let ts: TempStore;
  const children = new Set<ChildProcess>();

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await receiver?.close();
    ts?.dispose();
    await stopAllMosquittos();
  });

  it(
    `loses nothing over ${KILLS} kills and restarts, keeps the database sound, and leaves the will`,
    async () => {
      broker = await startMosquitto();
      receiver = await startReceiver(broker.url, 'sigkill');
      ts = tempStore();
      ts.store.close();
      const produced: Produced[] = [];

      for (let i = 0; i < KILLS; i++) {
        const run = runController(ts.path, broker.url, produced);
        children.add(run.child);
        await run.ready;
        // Somewhere between connecting and a busy drain of the backlog left by the previous kill.
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 700));
        run.child.kill('SIGKILL');
        await run.exited;
        children.delete(run.child);
      }
      const printedBeforeFinal = produced.length;

      // The last run was killed: the broker publishes its will (after the will delay).
      await waitFor(
        async () => (await retainedStatus(broker.url, undefined, 1000))?.state === 'offline',
        15_000,
        'will',
      );

      const final = runController(ts.path, broker.url, produced, ['--exit-when-drained']);
      children.add(final.child);
      expect(await final.exited).toBe(0);
      children.delete(final.child);

      await waitFor(
        () => receiver.seen.size >= 6000 && countingReport(produced, [receiver]).missing === 0,
        20_000,
        'every committed message',
      );
      const report = countingReport(produced, [receiver]);
      printReport(`sigkill x${KILLS}, ${printedBeforeFinal} printed before the final run`, report);
      // A kill can land between a commit and the flush of its `C` lines: those messages are committed but
      // not in `produced`. The receiver must still have every one of the 6000 committed messages.
      expect(receiver.seen.size).toBe(6000);
      expect(report.missing).toBe(0);
      expect(report.misordered).toBe(0);

      const db = new Database(ts.path, { readonly: true });
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        expect((db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n).toBe(0);
      } finally {
        db.close();
      }
      expect((await retainedStatus(broker.url))?.state).toBe('offline');
    },
    timeoutFor(180_000, 1_800_000),
  );
});
