import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { openStore, type Store } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { captureLog, msg, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
const opened: Store[] = [];
const track = (s: Store) => {
  opened.push(s);
  return s;
};

beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  tmp.cleanup();
});

function expectWorking(s: Store): void {
  const rowId = s.outbox.enqueue(msg('trade'), 1000);
  expect(s.outbox.nextBatch(10, 1000, new Set()).map((r) => r.rowId)).toEqual([rowId]);
  expect(s.quickCheck()).toBe('ok');
}

describe('open', () => {
  it('creates the parent directory, sets WAL and the pragmas, and applies every migration', () => {
    const path = tmp.path('a/b/c/store.db');
    const s = track(openStore({ path, log: silentLogger() }));
    expect(existsSync(path)).toBe(true);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('synchronous', { simple: true })).toBe(1);
    expect(s.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(s.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(s.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(s.quarantined).toBeNull();
    expectWorking(s);
  });

  it('reopens an existing store with its data and without re-running migrations', () => {
    const path = tmp.path('store.db');
    const s1 = openStore({ path, log: silentLogger() });
    s1.meta.set('home', 'home-42');
    s1.close();
    s1.close(); // idempotent
    const s2 = track(openStore({ path, log: silentLogger() }));
    expect(s2.meta.get('home')).toBe('home-42');
    expect(s2.meta.get('missing')).toBeUndefined();
    s2.meta.set('home', 'home-43');
    expect(s2.meta.get('home')).toBe('home-43');
  });

  it('refuses a database from a newer version instead of quarantining it', () => {
    const path = tmp.path('newer.db');
    const db = new Database(path);
    db.pragma('user_version = 999');
    db.close();
    expect(() => openStore({ path, log: silentLogger() })).toThrow(/newer/);
    expect(readdirSync(tmp.dir).filter((f) => f.includes('corrupt'))).toEqual([]);
  });

  it('lets two connections open the same file (the CLI next to the daemon)', () => {
    const path = tmp.path('shared.db');
    const daemon = track(openStore({ path, log: silentLogger() }));
    const cli = track(openStore({ path, log: silentLogger() }));
    daemon.outbox.enqueue(msg('trade'), 1);
    expect(cli.outbox.stats(1).depth.trade).toBe(1);
  });
});

describe('quarantine', () => {
  it('moves a file of garbage aside, logs it loudly and starts fresh', () => {
    const path = tmp.path('store.db');
    const garbage = randomBytes(16_384);
    writeFileSync(path, garbage);
    writeFileSync(`${path}-wal`, randomBytes(1000));
    const { log, lines } = captureLog();
    const s = track(openStore({ path, log, now: () => Date.UTC(2025, 0, 2, 3, 4, 5, 6) }));
    expect(s.quarantined).toBe(`${path}.corrupt-2025-01-02T03-04-05-006Z`);
    expect(readFileSync(s.quarantined!).equals(garbage)).toBe(true);
    expect(existsSync(`${s.quarantined}-wal`)).toBe(true);
    const err = lines.find((l) => l.level === 'error');
    expect(err).toMatchObject({ path, quarantinedTo: s.quarantined });
    expect(String(err?.msg)).toMatch(/corrupt/);
    expectWorking(s);
  });

  it('moves aside a database with corrupted pages', () => {
    const path = tmp.path('store.db');
    const s1 = openStore({ path, log: silentLogger() });
    s1.transaction(() => {
      for (let i = 0; i < 3000; i++)
        s1.outbox.enqueue(msg('telemetry', { payload: Buffer.alloc(400, i) }), i);
    });
    s1.close(); // checkpoints: everything is in the main file now
    expect(existsSync(`${path}-wal`)).toBe(false);
    const pages = statSync(path).size / 4096;
    expect(pages).toBeGreaterThan(100);
    const fd = openSync(path, 'r+');
    for (const page of [Math.floor(pages / 2), Math.floor(pages / 2) + 1])
      writeSync(fd, randomBytes(4096), 0, 4096, page * 4096);
    closeSync(fd);

    const { log, lines } = captureLog();
    const s2 = track(openStore({ path, log }));
    expect(s2.quarantined).toMatch(/store\.db\.corrupt-/);
    expect(existsSync(s2.quarantined!)).toBe(true);
    expect(lines.some((l) => l.level === 'error')).toBe(true);
    expect(s2.outbox.stats(0).rows).toBe(0);
    expectWorking(s2);
    // The fresh store is a normal store: reopening it quarantines nothing more.
    s2.close();
    const s3 = track(openStore({ path, log: silentLogger() }));
    expect(s3.quarantined).toBeNull();
    expect(s3.outbox.stats(0).rows).toBe(1);
  });

  it('does not overwrite an earlier quarantined file with the same timestamp', () => {
    const path = tmp.path('store.db');
    const now = () => 1_700_000_000_000;
    writeFileSync(path, randomBytes(8192));
    const first = openStore({ path, log: silentLogger(), now });
    first.close();
    writeFileSync(path, randomBytes(8192));
    const second = track(openStore({ path, log: silentLogger(), now }));
    expect(second.quarantined).not.toBe(first.quarantined);
    expect(existsSync(first.quarantined!)).toBe(true);
    expect(existsSync(second.quarantined!)).toBe(true);
  });
});
