import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { waitFor } from '../helpers/ports.js';
import { createHome, scannedUnits, type TestHome } from './home.js';
import { seedStore } from './seed.js';

/**
 * Every verb with the service stopped: hardware verbs open the bus themselves, store verbs open the
 * database file (read-only to look), restore replaces it.
 */

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('verbs with the service stopped', () => {
  let home: TestHome;
  let seeded: ReturnType<typeof seedStore>;
  let holder: ChildProcess | null = null;

  beforeAll(async () => {
    home = await createHome();
    seeded = seedStore(home.dbPath);
  });
  afterAll(async () => {
    holder?.kill('SIGKILL');
    await home?.dispose();
  });

  it('status: not running, exit 3, with what waits in the database and how to start it', async () => {
    const r = await home.cli('status');
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^not running: nothing answers on .*control\.sock/);
    expect(r.stdout).toMatch(/outbox 4 rows/);
    expect(r.stdout).toMatch(/systemctl start powerdeal/);
    const json = JSON.parse((await home.cli('status', '--json')).stdout) as {
      running: boolean;
      outbox: { rows: number };
    };
    expect(json).toMatchObject({ running: false, outbox: { rows: 4 } });
  });

  it('hardware verbs work directly', async () => {
    const read = await home.cli(
      'modbus',
      'read',
      ...home.meterTcp,
      '--unit',
      '2',
      '--input',
      '--address',
      '0',
      '--count',
      '2',
      '--format',
      'f32',
    );
    expect(read.code).toBe(0);
    expect(read.stdout).toMatch(/^ADDRESS/);
    expect(read.stderr).toBe('');
    const scan = await home.cli('modbus', 'scan', ...home.inverterTcp, '--to', '3', '--json');
    expect(scannedUnits(scan)).toEqual([1, 2]);
    const sunspec = await home.cli('sunspec', ...home.inverterTcp, '--json');
    expect(sunspec.code).toBe(0);
    expect((JSON.parse(sunspec.stdout) as { models: { id: number }[] }).models[0]?.id).toBe(1);
    const i2c = await home.cli('i2c', 'scan');
    expect(i2c.code).toBe(1);
    expect(i2c.stderr).toMatch(/no I2C bus here.*--simulated/);
    expect((await home.cli('i2c', 'scan', '--simulated', '--json')).code).toBe(0);
    const gpio = await home.cli('gpio', 'get', '17');
    expect(gpio.code).toBe(1);
    expect(gpio.stderr).toMatch(/no sysfs GPIO/);
    expect((await home.cli('gpio', 'get', '17', '--simulated')).stdout).toBe(
      'GPIO 17: low (input) [simulated]\n',
    );
  });

  it('looking does not change the database file (read-only, no -wal/-shm left behind)', async () => {
    const before = sha(home.dbPath);
    const ls = await home.cli('outbox', 'ls', '--json');
    expect(ls.code).toBe(0);
    const out = JSON.parse(ls.stdout) as { via: string; rows: { class: string }[] };
    expect(out.via).toBe('direct');
    expect(out.rows.map((r) => r.class)).toEqual(['trade', 'telemetry', 'telemetry', 'telemetry']);
    expect((await home.cli('outbox', 'stats')).stdout).toMatch(/telemetry\s+3\s/);
    expect((await home.cli('dlq', 'ls')).stdout).toMatch(/bad signature/);
    expect((await home.cli('trades')).stdout).toBe('no trades yet\n');
    expect(sha(home.dbPath)).toBe(before);
    expect(readdirSync(join(home.dir, 'data')).sort()).toEqual(['powerdeal.db']);
  });

  it('backup without the service: a checked copy under backups/', async () => {
    const r = await home.cli('backup', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { via: string; path: string };
    expect(out.via).toBe('direct');
    expect(out.path).toMatch(/data\/backups\/powerdeal-.*\.db$/);
    const copy = new Database(out.path, { readonly: true });
    expect(copy.prepare('SELECT count(*) AS n FROM outbox').get()).toEqual({ n: 4 });
    copy.close();
  });

  it('purge and retry change the file directly', async () => {
    const purge = await home.cli('outbox', 'purge', '--yes', '--json');
    expect(JSON.parse(purge.stdout)).toEqual({ via: 'direct', purged: 3 });
    const retry = await home.cli('dlq', 'retry', String(seeded.outDead), String(seeded.inDead), '--json');
    expect(retry.code).toBe(1);
    const out = JSON.parse(retry.stdout) as { requeued: { id: number }[]; refused: { id: number }[] };
    expect(out.requeued.map((r) => r.id)).toEqual([seeded.outDead]);
    expect(out.refused.map((r) => r.id)).toEqual([seeded.inDead]);
    const ls = JSON.parse((await home.cli('outbox', 'ls', '--json')).stdout) as { rows: { class: string }[] };
    expect(ls.rows.map((r) => r.class)).toEqual(['trade', 'settlement']);
  });

  it('restore refuses a file that is not a database, a missing one, and a newer schema', async () => {
    const junk = join(home.dir, 'junk.db');
    writeFileSync(junk, 'not a database at all, just text that is long enough to look like a file');
    const r1 = await home.cli('restore', junk);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/refusing to restore: .*junk\.db is not a readable database/);
    const r2 = await home.cli('restore', join(home.dir, 'absent.db'));
    expect(r2.code).toBe(2);
    const newer = join(home.dir, 'newer.db');
    const db = new Database(newer);
    db.exec('CREATE TABLE outbox (x)');
    db.pragma('user_version = 99');
    db.close();
    const r3 = await home.cli('restore', newer);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/schema version 99, newer than this program's/);
  });

  it('restore refuses while another process has the database open', async () => {
    holder = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const d = new D(${JSON.stringify(home.dbPath)}); d.prepare('SELECT count(*) FROM outbox').get(); console.log('open'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    holder.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(() => out.includes('open'), 10_000, 'the holder to open the database');
    const backups = readdirSync(join(home.dir, 'data', 'backups'));
    const r = await home.cli('restore', join(home.dir, 'data', 'backups', backups[0]!));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/in use by another process.*stop the service first/);
    holder.kill('SIGKILL');
    holder = null;
  });

  it('restore puts the backup back, keeps the replaced file, and the service starts on it', async () => {
    const backups = readdirSync(join(home.dir, 'data', 'backups'));
    const backup = join(home.dir, 'data', 'backups', backups[0]!);
    const r = await home.cli('restore', backup, '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { keptAs: string; schemaVersion: number };
    expect(out.schemaVersion).toBe(MIGRATIONS.at(-1)?.version);
    expect(existsSync(out.keptAs)).toBe(true);
    const kept = new Database(out.keptAs, { readonly: true });
    expect(kept.prepare('SELECT class FROM outbox ORDER BY row_id').all()).toEqual([
      { class: 'trade' },
      { class: 'settlement' },
    ]);
    kept.close();
    await home.startService();
    const ls = JSON.parse((await home.cli('outbox', 'ls', '--class', 'telemetry', '--json')).stdout) as {
      via: string;
      rows: unknown[];
    };
    expect(ls.via).toBe('service');
    expect(ls.rows.length).toBeGreaterThanOrEqual(3);
    await home.stopService();
  });
});
