import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client/client.js';
import { lockDatabase } from '../../src/store/lock.js';
import { runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/ports.js';
import { type RunProcess, spawnRun, tempDir, writeConfig } from '../systemd/helpers.js';

/**
 * One controller per database: real `powerdeal run` processes on one database, each with its own
 * config (web port, control socket), so nothing but the database lock keeps them apart.
 */
describe('one controller per home', () => {
  const tmp = tempDir('pd-one-');
  const dbPath = join(tmp.dir, 'data', 'powerdeal.db');
  const runs: RunProcess[] = [];
  let first: RunProcess;
  let configA: string;
  let configB: string;
  let socketA: string;

  const start = (config: string) => {
    const run = spawnRun(config);
    runs.push(run);
    return run;
  };
  const ready = (run: RunProcess) =>
    waitFor(
      () => {
        if (run.child.exitCode !== null) throw new Error(`run exited:\n${run.output()}`);
        return /"msg":"ready"/.test(run.output());
      },
      45_000,
      'the service to be ready',
      100,
    );
  const cliB = (...args: string[]) => runCli(['--config', configB, ...args], { timeoutMs: 30_000 });

  beforeAll(async () => {
    for (const d of ['a', 'b']) mkdirSync(join(tmp.dir, d));
    configA = await writeConfig(join(tmp.dir, 'a'), { dbPath });
    configB = await writeConfig(join(tmp.dir, 'b'), { dbPath });
    socketA = join(tmp.dir, 'a', 'control.sock');
    first = start(configA);
    await ready(first);
  });

  afterAll(async () => {
    for (const run of runs) {
      run.kill('SIGKILL');
      await run.exited;
    }
    tmp.cleanup();
  });

  it('refuses a second run with exit 78, naming the first, which keeps running', async () => {
    const second = start(configB);
    expect(await second.exited).toBe(78);
    expect(second.output()).toMatch(
      new RegExp(
        `refusing to start: .*powerdeal\\.db is in use by pid ${first.pid} \\(.*main\\.ts run --config .*a/config\\.yaml, started \\d{4}-\\d\\d-\\d\\dT.*one controller per home`,
      ),
    );
    // Refused before it opened anything: no store, no devices, no page.
    expect(second.output()).not.toMatch(/service started|"module":"store"/);
    expect(first.child.exitCode).toBeNull();
    const client = await ControlClient.connect(socketA);
    if (!client) throw new Error('the first run does not answer on its control socket');
    try {
      expect(await client.call<{ pid: number }>('ping')).toMatchObject({ pid: first.pid });
    } finally {
      client.close();
    }
  });

  it('refuses the write verbs that would write beside it; looking still works', async () => {
    const backup = join(tmp.dir, 'backup.db');
    expect((await runCli(['--config', configA, 'backup', '--to', backup])).code).toBe(0);
    const named = new RegExp(`in use by pid ${first.pid} .*run --config`);
    for (const verb of [
      ['outbox', 'purge', '--yes'],
      ['outbox', 'retry'],
      ['dlq', 'purge', '--yes'],
    ]) {
      const r = await cliB(...verb);
      expect(r.code, verb.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/^powerdeal: refusing to change the database: /);
      expect(r.stderr).toMatch(named);
      expect(r.stderr).toMatch(/nothing answers on .*b\/control\.sock \(control\.socket\)/);
    }
    const restore = await cliB('restore', backup);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/^powerdeal: refusing to restore: /);
    expect(restore.stderr).toMatch(named);
    const ls = await cliB('outbox', 'ls', '--json');
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toMatchObject({ via: 'direct' });
    expect(first.child.exitCode).toBeNull();
  });

  it('starts a new one once the first is killed (the kernel releases the lock)', async () => {
    first.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const next = start(configB);
    await ready(next);
    next.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });

  it('waits for a verb holding the database, then starts', async () => {
    const verb = lockDatabase(dbPath, 'verb');
    let run: RunProcess;
    try {
      run = start(configA);
      await waitFor(() => /waiting for it to finish/.test(run.output()), 20_000, 'the run to wait');
      await new Promise((r) => setTimeout(r, 500));
      expect(run.output()).not.toMatch(/"msg":"ready"/);
      expect(run.child.exitCode).toBeNull();
    } finally {
      verb.release();
    }
    await ready(run);
    run.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
