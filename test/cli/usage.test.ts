import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { bashScript, zshScript } from '../../src/cli/commands/completion.js';
import { registerCommands } from '../../src/cli/commands/index.js';
import { CliError, EXIT } from '../../src/control/client/exit-codes.js';
import { pinCliConfig, runCli } from '../helpers/cli.js';

// Verbs also run in this process: a service on this machine's default socket must not answer them.
pinCliConfig();

/** The whole command tree, run in this process the way src/cli/main.ts runs it. */
async function verb(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const program = new Command('powerdeal')
    .option('--config <file>')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: (s) => (stderr += s) });
  await registerCommands(program);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const before = process.exitCode;
  try {
    await program.parseAsync(['node', 'powerdeal', ...args]);
    return { code: process.exitCode === undefined ? 0 : Number(process.exitCode), stderr };
  } catch (err) {
    if (err instanceof CommanderError) return { code: err.exitCode === 0 ? EXIT.ok : EXIT.usage, stderr };
    if (err instanceof CliError) return { code: err.exitCode, stderr: stderr + err.message };
    throw err;
  } finally {
    out.mockRestore();
    process.exitCode = before;
  }
}

describe('bad arguments are usage errors (exit 2)', () => {
  it.each([
    [['outbox', 'ls', '--class', 'bogus']],
    [['outbox', 'ls', '--limit', '0']],
    [['outbox', 'purge']],
    [['outbox', 'purge', '--class', 'trade', '--yes']],
    [['outbox', 'frobnicate']],
    [['dlq', 'retry']],
    [['dlq', 'retry', 'seven']],
    [['dlq', 'purge', '3']],
    [['dlq', 'ls', '--direction', 'sideways']],
    [['trades', '--limit', 'lots']],
    [['backup', '--bogus']],
    [['restore']],
    [['status', '--bogus']],
    [['selftest', '--broker-timeout', 'soon']],
    [['logs', '--level', 'loud']],
    [['logs', '--since', 'a while ago']],
    [['logs', '--lines', '-3']],
    [['completion', 'fish']],
    [['completion']],
    [['modbus', 'read', '--address', '0']],
    [['modbus', 'read', '--tcp', 'nohost', '--address', '0']],
    [['modbus', 'scan', '--tcp', '127.0.0.1:1', '--from', '300']],
    [['sunspec', '--tcp', '127.0.0.1:1', '--unit', '999']],
    [['i2c', 'scan', '--bus', '300']],
    [['gpio', 'set', '17', 'maybe', '--yes']],
    [['gpio', 'get', 'seventeen']],
    [['no-such-verb']],
  ])('%j', async (args) => {
    const r = await verb(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toBe('');
  });

  it('--help exits 0 for every verb', async () => {
    for (const args of [
      ['status'],
      ['outbox', 'purge'],
      ['dlq', 'retry'],
      ['logs'],
      ['selftest'],
      ['restore'],
    ]) {
      expect((await verb(...args, '--help')).code).toBe(0);
    }
  });

  it('the real binary agrees: exit 2 and the problem on stderr', async () => {
    const r = await runCli(['outbox', 'purge', '--class', 'settlement', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'powerdeal: settlement rows are promises to neighbours (never shed): purge them only with --force\n',
    );
  });
});

describe('shell completion, from the command tree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pd-completion-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = promisify(execFile);

  async function tree(): Promise<Command> {
    const program = new Command('powerdeal').option('--config <file>');
    await registerCommands(program);
    return program;
  }

  /** What bash offers after `line` (the cursor at its end), with the generated script loaded. */
  async function complete(line: string): Promise<string[]> {
    const file = join(dir, 'powerdeal.bash');
    writeFileSync(file, bashScript(await tree()));
    const words = line.split(' ');
    const script = `source ${file}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
_powerdeal
printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await run('bash', ['-c', script], { cwd: dir });
    return stdout.split('\n').filter(Boolean).sort();
  }

  it('completes verbs, subverbs, options and option values', async () => {
    expect(await complete('powerdeal ou')).toEqual(['outbox']);
    expect(await complete('powerdeal outbox p')).toEqual(['purge']);
    expect(await complete('powerdeal outbox purge --')).toEqual([
      '--class',
      '--config',
      '--force',
      '--help',
      '--json',
      '--yes',
    ]);
    expect(await complete('powerdeal outbox purge --class tr')).toEqual(['trade', 'trade-ack']);
    expect(await complete('powerdeal --config x.yaml dlq ls --direction ')).toEqual(['in', 'out']);
    expect(await complete('powerdeal logs --level w')).toEqual(['warn']);
    expect(await complete('powerdeal completion ')).toEqual(['--config', '--help']);
    writeFileSync(join(dir, 'home.yaml'), '');
    expect(await complete('powerdeal selftest --config ho')).toEqual(['home.yaml']);
  });

  it('a verb added to the tree is completed without touching the generator', async () => {
    const program = await tree();
    program.command('frobnicate').option('--hard');
    expect(bashScript(program)).toMatch(/'frobnicate'\) echo '--config --hard --help'/);
  });

  it('zsh gets the same completion through bashcompinit', async () => {
    const text = zshScript(await tree());
    expect(text.startsWith('#compdef powerdeal\n')).toBe(true);
    expect(text).toMatch(/bashcompinit/);
    expect(text).toContain(bashScript(await tree()));
  });

  it('the verb prints the scripts', async () => {
    const r = await runCli(['completion', 'bash']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+'outbox purge'\) echo '--config --class --force --yes --json --help' ;;$/m);
    expect(r.stdout).toMatch(/^complete -F _powerdeal powerdeal$/m);
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.stdout.startsWith('#compdef powerdeal\n')).toBe(true);
  });
});
