import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatabaseLock, DatabaseLockedError, lockDatabase, lockPath } from '../../src/store/lock.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from './helpers.js';

const LOCK_MODULE = resolve(import.meta.dirname, '../../src/store/lock.ts');

let tmp: ReturnType<typeof tempDir>;
let dbPath: string;
const held: DatabaseLock[] = [];
const children: ChildProcess[] = [];

beforeEach(() => {
  tmp = tempDir('powerdeal-lock-');
  dbPath = tmp.path('powerdeal.db');
});
afterEach(async () => {
  for (const l of held.splice(0)) l.release();
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await once(c, 'exit');
    }
  }
  tmp.cleanup();
});

function take(path = dbPath): DatabaseLock {
  const lock = lockDatabase(path, 'service');
  held.push(lock);
  return lock;
}

function refusal(path = dbPath): DatabaseLockedError {
  try {
    held.push(lockDatabase(path, 'verb'));
  } catch (err) {
    if (err instanceof DatabaseLockedError) return err;
    throw err;
  }
  throw new Error('the lock was taken twice');
}

/** Another process holding the lock, as a verb would. */
async function holderProcess(): Promise<ChildProcess> {
  const code = `const { lockDatabase } = await import(${JSON.stringify(LOCK_MODULE)}); lockDatabase(${JSON.stringify(dbPath)}, 'verb'); console.log('held'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await waitFor(() => out.includes('held'), 20_000, 'the child to take the lock');
  return child;
}

describe('database lock', () => {
  it('refuses a second holder, naming the first, until it is released', () => {
    const lock = take();
    const err = refusal();
    expect(err.holder).toMatchObject({ pid: process.pid, role: 'service', argv: process.argv });
    expect(Date.parse(err.holder?.startedAt ?? '')).toBeLessThanOrEqual(Date.now());
    expect(err.message).toMatch(new RegExp(`powerdeal\\.db is in use by pid ${process.pid} \\(.*, started `));
    lock.release();
    lock.release();
    take();
  });

  it('leaves only the lock file behind: no journal, and the record goes with the release', () => {
    const lock = take();
    expect(readdirSync(tmp.dir).sort()).toEqual(['powerdeal.db.lock', 'powerdeal.db.lock.json']);
    expect(statSync(lockPath(dbPath)).size).toBe(0);
    lock.release();
    expect(readdirSync(tmp.dir)).toEqual(['powerdeal.db.lock']);
  });

  it('creates the directory the database will live in', () => {
    take(join(tmp.dir, 'not', 'yet', 'powerdeal.db'));
    expect(existsSync(join(tmp.dir, 'not', 'yet', 'powerdeal.db.lock'))).toBe(true);
  });

  it('is released by the kernel when its holder is killed', async () => {
    const child = await holderProcess();
    expect(refusal().holder).toMatchObject({ pid: child.pid, role: 'verb' });
    child.kill('SIGKILL');
    await once(child, 'exit');
    take();
    expect(JSON.parse(readFileSync(`${dbPath}.lock.json`, 'utf8'))).toMatchObject({ pid: process.pid });
  });

  it('names no one when the record names a process that is gone', async () => {
    take();
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    writeFileSync(
      `${dbPath}.lock.json`,
      JSON.stringify({ pid: gone.pid, startedAt: 'x', argv: [], role: 'verb' }),
    );
    const err = refusal();
    expect(err.holder).toBeNull();
    expect(err.message).toMatch(/in use by another process \(it has not recorded which\)/);
  });

  it('needs no file for an in-memory database', () => {
    take(':memory:');
    take(':memory:');
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)('taken by root, gives the lock file to the directory owner', () => {
    const dir = join(tmp.dir, 'state');
    mkdirSync(dir);
    chownSync(dir, 4321, 4322);
    take(join(dir, 'powerdeal.db'));
    const st = statSync(join(dir, 'powerdeal.db.lock'));
    expect([st.uid, st.gid]).toEqual([4321, 4322]);
  });
});
