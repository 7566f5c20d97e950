import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { runCli, spawnCli } from '../helpers/cli.js';

/** `powerdeal logs` on lines the service's own logger writes (journald `<N>` prefix included). */
describe('powerdeal logs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pd-logs-'));
  const file = join(dir, 'powerdeal.log');
  const oldTime = new Date(Date.now() - 3 * 3_600_000).toISOString();

  beforeAll(() => {
    writeFileSync(
      file,
      `${JSON.stringify({ level: 'info', time: oldTime, pid: 1, module: 'cycle', msg: 'an old line' })}\n`,
    );
    const log = createLogger({
      level: 'debug',
      journald: true,
      destination: { write: (line: string) => appendFileSync(file, line) },
    });
    log.child({ module: 'cycle' }).debug({ cycle: 7 }, 'cycle done');
    log
      .child({ module: 'link' })
      .warn({ broker: 'mqtt://10.0.0.2:1883', err: new Error('connect ECONNREFUSED') }, 'broker down');
    log.child({ module: 'devices' }).error({ device: 'grid-meter' }, 'modbus device faulted');
    log.info('service started');
    appendFileSync(file, 'TypeError: not JSON, a crash trace\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const TS = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}';

  it('pretty-prints every line: time, level, module, message, fields, the error', async () => {
    const r = await runCli(['logs', '--file', file]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${TS} INFO  \\[cycle\\] an old line$`));
    expect(lines[1]).toMatch(new RegExp(`^${TS} DEBUG \\[cycle\\] cycle done cycle=7$`));
    expect(lines[2]).toMatch(
      new RegExp(
        `^${TS} WARN  \\[link\\] broker down broker=mqtt://10.0.0.2:1883 err="connect ECONNREFUSED"$`,
      ),
    );
    // The stack follows, indented.
    expect(lines[3]).toMatch(/^ {4}at /);
    expect(r.stdout).toMatch(
      new RegExp(`${TS} ERROR \\[devices\\] modbus device faulted device=grid-meter\\n`),
    );
    expect(r.stdout).toMatch(new RegExp(`${TS} INFO  service started\\n`));
    expect(r.stdout).toMatch(/^TypeError: not JSON, a crash trace$/m);
  });

  it('filters by level, module and time; --json keeps the lines as written', async () => {
    const warn = await runCli(['logs', '--file', file, '--level', 'warn']);
    expect(
      warn.stdout
        .split('\n')
        .filter((l) => /^\d{4}/.test(l))
        .map((l) => l.split(' ')[2]),
    ).toEqual(['WARN', 'ERROR']);
    expect(warn.stdout).not.toMatch(/crash trace/);
    const mods = await runCli(['logs', '--file', file, '--module', 'cycle,devices', '--json']);
    const parsed = mods.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; module: string });
    expect(parsed.map((p) => p.msg)).toEqual(['an old line', 'cycle done', 'modbus device faulted']);
    const recent = await runCli(['logs', '--file', file, '--since', '1h', '--json']);
    expect(recent.stdout).not.toMatch(/an old line/);
    expect(recent.stdout.trim().split('\n')).toHaveLength(4);
    const last = await runCli(['logs', '--file', file, '--level', 'info', '-n', '1']);
    expect(last.stdout).toMatch(new RegExp(`^${TS} INFO  service started\\n$`));
  });

  it('follows the file until interrupted', async () => {
    const p = spawnCli(['logs', '--file', file, '--follow', '--module', 'link']);
    let code: number | null;
    try {
      await p.waitForLine((l) => l.includes('broker down'), 45_000);
      appendFileSync(
        file,
        `<4>${JSON.stringify({ level: 'warn', time: new Date().toISOString(), module: 'link', msg: 'still down' })}\n`,
      );
      appendFileSync(
        file,
        `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), module: 'cycle', msg: 'not mine' })}\n`,
      );
      await p.waitForLine((l) => l.includes('[link] still down'), 45_000);
    } finally {
      code = await p.stop('SIGINT');
    }
    expect(code).toBe(0);
    expect(p.lines.some((l) => l.includes('not mine'))).toBe(false);
  });

  it('reads the journal of powerdeal.service through journalctl, and follows it from its cursor', async () => {
    // A journalctl on PATH that records its arguments and prints what `-o cat --show-cursor` would;
    // following, it prints one new line and waits.
    const bin = join(dir, 'bin');
    rmSync(bin, { recursive: true, force: true });
    const args = join(dir, 'journalctl.args');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'journalctl'),
      `#!/bin/sh
echo "$@" >> ${args}
case "$*" in
  *--follow*)
    echo "{\\"level\\":\\"error\\",\\"time\\":\\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\\",\\"module\\":\\"link\\",\\"msg\\":\\"live line\\"}"
    exec sleep 60 ;;
  *)
    cat ${file}
    echo "-- cursor: s=abc;i=42" ;;
esac
`,
    );
    chmodSync(join(bin, 'journalctl'), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const r = await runCli(['logs', '--level', 'error', '--since', '2h'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\S+ \S+ ERROR \[devices\] modbus device faulted device=grid-meter\n$/);
    expect(readFileSync(args, 'utf8')).toMatch(
      /^-u powerdeal -o cat --no-pager --since @\d+ --show-cursor\n$/,
    );

    rmSync(args);
    const p = spawnCli(['logs', '--level', 'error', '--follow'], { env });
    let code: number | null;
    try {
      await p.waitForLine((l) => l.includes('[link] live line'), 45_000);
    } finally {
      code = await p.stop('SIGINT');
    }
    expect(code).toBe(0);
    expect(readFileSync(args, 'utf8').split('\n')).toEqual([
      '-u powerdeal -o cat --no-pager --show-cursor',
      '-u powerdeal -o cat --no-pager --follow --after-cursor s=abc;i=42',
      '',
    ]);
  });

  it('without a journal it says to use --file (exit 1)', async () => {
    const r = await runCli(['logs'], { env: { PATH: join(dir, 'empty') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/journalctl failed .*--file PATH/);
  });
});
