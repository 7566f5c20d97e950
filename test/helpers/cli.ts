import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The real CLI entry point, run the way the installed `powerdeal` binary runs it. */
export const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

let pinned: string | undefined;

/**
 * A config of this test process's own, in a temporary directory: its control socket, database,
 * backups, key, keyring and web token live there. Every CLI run of the tests reads it (unless the test names another), so a
 * Powerdeal service running on this machine on the default socket (/run/powerdeal/control.sock) is
 * never reached, and the verbs answer as they do without one.
 */
export function hermeticConfig(): string {
  if (pinned) return pinned;
  const dir = mkdtempSync(join(tmpdir(), 'pd-cli-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    [
      'home: { id: home-test, zone: zone-test }',
      `control: { socket: ${join(dir, 'control.sock')} }`,
      `store: { path: ${join(dir, 'powerdeal.db')}, backupDir: ${join(dir, 'backups')} }`,
      // Keys and token of its own too (absent): an installed home's /etc/powerdeal files change nothing.
      `keys: { privateKeyFile: ${join(dir, 'home.key')}, keyringFile: ${join(dir, 'keyring.yaml')} }`,
      `web: { tokenFile: ${join(dir, 'web.token')} }`,
      '',
    ].join('\n'),
  );
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  pinned = file;
  return file;
}

/**
 * Points verbs run in this process (the tests that call `register` directly) at `hermeticConfig()`:
 * `$POWERDEAL_CONFIG` is how a verb without `--config` finds its config and, through it, the socket.
 */
export function pinCliConfig(): void {
  process.env.POWERDEAL_CONFIG = hermeticConfig();
}

/** The environment of a spawned CLI: no colours, the hermetic config unless the test sets its own. */
function cliEnv(env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  return { ...process.env, NO_COLOR: '1', POWERDEAL_CONFIG: hermeticConfig(), ...env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one CLI verb to completion. */
export async function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [...CLI, ...args], {
    env: cliEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A long-running CLI process (run, sim) with its output lines collected. */
export interface CliProcess {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first stdout line matching `test`. */
  waitForLine(test: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  send(line: string): void;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const child = spawn(process.execPath, [...CLI, ...args], {
    env: cliEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ test: (l: string) => boolean; resolve: (l: string) => void }> = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  }
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    lines,
    waitForLine: (test, timeoutMs = 20_000) => {
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no matching line within ${timeoutMs} ms; output:\n${lines.slice(-30).join('\n')}`),
            ),
          timeoutMs,
        );
        waiters.push({
          test,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    send: (line) => child.stdin.write(`${line}\n`),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
