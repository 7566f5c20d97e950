/**
 * Store benchmark: outbox enqueue (durable, batched), drain (nextBatch + ack), per-op cost with a deep
 * outbox, each against raw better-sqlite3 on a plain table measured in the same run; and the bytes
 * written per hour of 1 Hz readings and telemetry. Run alone: node --import tsx scripts/bench/store.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { QUANTITY_NAMES, type Snapshot } from '../../src/core/quantities.js';
import { silentLogger } from '../../src/log/logger.js';
import { type OutboxMessage, openStore, type Store, type StoreOptions } from '../../src/store/index.js';

const PAYLOAD = Buffer.alloc(400, 'x');
const TOPIC = 'powerdeal/v1/lyon-7/home-42/telemetry';

function timeUs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1000;
}

function rate(n: number, totalUs: number, baselineUs: number) {
  const usPerOp = totalUs / n;
  const baselineUsPerOp = baselineUs / n;
  return {
    n,
    usPerOp: round(usPerOp),
    opsPerS: Math.round(1e6 / usPerOp),
    baselineUsPerOp: round(baselineUsPerOp),
    ratioToBaseline: round(usPerOp / baselineUsPerOp),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

let seq = 0;
function message(cls: OutboxMessage['class']): OutboxMessage {
  seq += 1;
  return { id: `bench-${seq}`, class: cls, topic: TOPIC, payload: PAYLOAD, retain: false };
}

function snapshot(cycle: number, ts: number): Snapshot {
  const s: Snapshot = { cycle, ts, quantities: {} };
  QUANTITY_NAMES.forEach((name, i) => {
    s.quantities[name] = {
      value: 1000 + Math.sin(cycle / 60 + i) * 500,
      quality: 'good',
      ts: ts - 40,
      source: `dev-${i % 4}`,
    };
  });
  return s;
}

/** The plain-table baseline: the same SQLite, WAL, no indexes, triggers or policies. */
function rawTable(path: string, sync: 'FULL' | 'NORMAL'): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, topic TEXT, payload BLOB)');
  return db;
}

function openBench(dir: string, name: string, extra: Partial<StoreOptions> = {}): Store {
  return openStore({ path: join(dir, name), log: silentLogger(), ...extra });
}

function benchDurableEnqueue(dir: string) {
  const n = 300;
  const db = rawTable(join(dir, 'raw-durable.db'), 'FULL');
  const insert = db.prepare('INSERT INTO t (topic, payload) VALUES (?, ?)');
  const base = timeUs(() => {
    for (let i = 0; i < n; i++) insert.run(TOPIC, PAYLOAD);
  });
  db.close();
  const store = openBench(dir, 'durable.db');
  // A trade is never-shed: its enqueue is a durable (synchronous=FULL) commit of its own.
  const us = timeUs(() => {
    for (let i = 0; i < n; i++) store.outbox.enqueue(message('trade'), i);
  });
  store.close();
  return rate(n, us, base);
}

function benchBatchedEnqueue(dir: string) {
  const n = 20_000;
  const batch = 100;
  const db = rawTable(join(dir, 'raw-batched.db'), 'NORMAL');
  const insert = db.prepare('INSERT INTO t (topic, payload) VALUES (?, ?)');
  const many = db.transaction(() => {
    for (let j = 0; j < batch; j++) insert.run(TOPIC, PAYLOAD);
  });
  const base = timeUs(() => {
    for (let i = 0; i < n / batch; i++) many();
  });
  db.close();
  const store = openBench(dir, 'batched.db');
  const us = timeUs(() => {
    for (let i = 0; i < n / batch; i++) {
      store.transaction(() => {
        for (let j = 0; j < batch; j++) store.outbox.enqueue(message('telemetry'), i);
      });
    }
  });
  store.close();
  return { batch, ...rate(n, us, base) };
}

function benchDrain(dir: string, perBatch: boolean) {
  const n = perBatch ? 20_000 : 3000;
  const batch = 32;
  const db = rawTable(join(dir, `raw-drain-${perBatch}.db`), 'NORMAL');
  const insert = db.prepare('INSERT INTO t (topic, payload) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(TOPIC, PAYLOAD);
  })();
  const select = db.prepare('SELECT id, topic, payload FROM t ORDER BY id LIMIT ?');
  const del = db.prepare('DELETE FROM t WHERE id = ?');
  const delMany = db.transaction((ids: number[]) => {
    for (const id of ids) del.run(id);
  });
  const base = timeUs(() => {
    for (;;) {
      const rows = select.all(batch) as { id: number }[];
      if (rows.length === 0) break;
      if (perBatch) delMany(rows.map((r) => r.id));
      else for (const r of rows) del.run(r.id);
    }
  });
  db.close();
  const store = openBench(dir, `drain-${perBatch}.db`);
  store.transaction(() => {
    for (let i = 0; i < n; i++) store.outbox.enqueue(message('telemetry'), 0);
  });
  const none = new Set<number>();
  const us = timeUs(() => {
    for (;;) {
      const rows = store.outbox.nextBatch(batch, 1, none);
      if (rows.length === 0) break;
      if (perBatch)
        store.outbox.ackMany(
          rows.map((r) => r.rowId),
          1,
        );
      else for (const r of rows) store.outbox.ack(r.rowId, 1);
    }
  });
  store.close();
  return { batch, ackPerCommit: perBatch ? batch : 1, ...rate(n, us, base) };
}

/** Per-op cost at depth 0 and with a deep backlog: index-driven paths stay flat. */
function benchDepth(dir: string) {
  const depth = 200_000;
  const store = openBench(dir, 'deep.db', { outboxCaps: { maxRows: 1_000_000, maxBytes: 1e12 } });
  const sample = () => {
    const n = 2000;
    const enqueueUs = timeUs(() => {
      store.transaction(() => {
        for (let i = 0; i < n; i++) store.outbox.enqueue(message('telemetry'), 0);
      });
    });
    const inFlight = new Set<number>();
    const nextBatchUs = timeUs(() => {
      for (let i = 0; i < 200; i++) store.outbox.nextBatch(32, 1, inFlight);
    });
    const statsUs = timeUs(() => {
      for (let i = 0; i < 200; i++) store.outbox.stats(1);
    });
    return {
      enqueueUsPerRow: round(enqueueUs / n),
      nextBatch32Us: round(nextBatchUs / 200),
      statsUs: round(statsUs / 200),
    };
  };
  const shallow = sample();
  store.transaction(() => {
    for (let i = 0; i < depth; i++) store.outbox.enqueue(message('telemetry'), 0);
  });
  const deep = sample();
  // At the cap: every enqueue also sheds (in batches of 1 % of the cap).
  store.close();
  const capped = openBench(dir, 'deep.db', { outboxCaps: { maxRows: depth, maxBytes: 1e12 } });
  const n = 20_000;
  const atCapUs = timeUs(() => {
    for (let i = 0; i < n / 100; i++) {
      capped.transaction(() => {
        for (let j = 0; j < 100; j++) capped.outbox.enqueue(message('telemetry'), 0);
      });
    }
  });
  const shed = capped.outbox.stats(0).drops['shed-cap'];
  capped.close();
  return { depth, shallow, deep, atCap: { enqueueUsPerRow: round(atCapUs / n), shed } };
}

function procIo(): { wchar: number; writeBytes: number } {
  const text = readFileSync('/proc/self/io', 'utf8');
  const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { wchar: get('wchar'), writeBytes: get('write_bytes') };
}

/**
 * One simulated hour at 1 Hz. `wchar` counts every byte SQLite handed to write() (WAL frames and
 * checkpoints, the final checkpoint included); `write_bytes` is what reached the block layer, when
 * the kernel accounts it in this environment.
 */
function benchHour(
  dir: string,
  name: string,
  opts: { telemetryEveryS: number; online: boolean; readings: boolean; flushMs?: number },
) {
  const store = openBench(
    dir,
    `${name}.db`,
    opts.flushMs === undefined ? {} : { readingsFlushMs: opts.flushMs },
  );
  const t0 = Date.UTC(2025, 5, 1, 12);
  const before = procIo();
  const none = new Set<number>();
  const us = timeUs(() => {
    for (let i = 0; i < 3600; i++) {
      const now = t0 + i * 1000;
      store.transaction(() => {
        if (opts.readings) store.readings.append(snapshot(i, now), now);
        if (opts.telemetryEveryS > 0 && i % opts.telemetryEveryS === 0) {
          store.outbox.enqueue({ ...message('telemetry'), payload: Buffer.alloc(600, 'x') }, now);
        }
      });
      if (opts.online) {
        const rows = store.outbox.nextBatch(32, now, none);
        if (rows.length > 0)
          store.outbox.ackMany(
            rows.map((r) => r.rowId),
            now,
          );
      }
    }
    store.readings.flush();
    store.db.pragma('wal_checkpoint(TRUNCATE)');
  });
  const after = procIo();
  store.close();
  return {
    wcharMiBPerHour: round((after.wchar - before.wchar) / 2 ** 20),
    writeBytesMiBPerHour: round((after.writeBytes - before.writeBytes) / 2 ** 20),
    cpuMsPerHour: Math.round(us / 1000),
  };
}

export async function benchStore(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-bench-store-'));
  try {
    const probe = new Database(':memory:');
    const sqlite = (probe.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    probe.close();
    return {
      node: process.version,
      sqlite,
      durableEnqueue: benchDurableEnqueue(dir),
      batchedEnqueue: benchBatchedEnqueue(dir),
      drainAckPerBatch: benchDrain(dir, true),
      drainAckPerRow: benchDrain(dir, false),
      depth: benchDepth(dir),
      bytesWritten1Hz: {
        readingsEveryCycle: benchHour(dir, 'h-r0', {
          readings: true,
          telemetryEveryS: 0,
          online: false,
          flushMs: 0,
        }),
        readingsBuffered10s: benchHour(dir, 'h-r10', { readings: true, telemetryEveryS: 0, online: false }),
        readingsBuffered60s: benchHour(dir, 'h-r60', {
          readings: true,
          telemetryEveryS: 0,
          online: false,
          flushMs: 60_000,
        }),
        readingsAndTelemetry1HzOffline: benchHour(dir, 'h-t1off', {
          readings: true,
          telemetryEveryS: 1,
          online: false,
        }),
        readingsAndTelemetry1HzOnline: benchHour(dir, 'h-t1on', {
          readings: true,
          telemetryEveryS: 1,
          online: true,
        }),
        readingsEveryCycleAndTelemetry1HzOnline: benchHour(dir, 'h-t1on-r0', {
          readings: true,
          telemetryEveryS: 1,
          online: true,
          flushMs: 0,
        }),
        // The defaults: readings buffered 10 s, telemetry every 10 s (mqtt.telemetryIntervalMs).
        defaultsOnline: benchHour(dir, 'h-def', { readings: true, telemetryEveryS: 10, online: true }),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchStore(), null, 2));
}
