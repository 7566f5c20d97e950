import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { createHome, type TestHome } from './home.js';

/**
 * `gpio set` asks before it switches a relay: driven in a real terminal (tmux), answered with keys,
 * read back from the screen. A tmux server of its own (its socket in a temp dir), killed at the end.
 */

const run = promisify(execFile);
const tmuxDir = mkdtempSync(join(tmpdir(), 'pd-cli-tmux-'));
// A fresh server socket after each kill-server: a new session must not reach a server still on its way out.
let server = 0;
const tmux = (...args: string[]) =>
  run('tmux', ['-S', join(tmuxDir, `socket-${server}`), ...args], { timeout: 10_000 });

let sessions = 0;

/** Starts `powerdeal ARGS` in a new tmux window; returns the session name. */
async function inTerminal(configFile: string, args: string): Promise<string> {
  const name = `s${++sessions}`;
  const command = `NO_COLOR=1 ${process.execPath} --import tsx src/cli/main.ts --config ${configFile} ${args}; echo "EXIT=$?"; sleep 120`;
  await tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '40', '-c', process.cwd(), command);
  return name;
}

const screen = async (name: string) => (await tmux('capture-pane', '-p', '-t', name)).stdout;

const waitForScreen = (name: string, re: RegExp) =>
  waitFor(async () => re.test(await screen(name)), 30_000, `${re} on the terminal`, 100).catch(
    async (err) => {
      throw new Error(`${(err as Error).message}\n--- screen ---\n${await screen(name)}`);
    },
  );

describe('gpio set confirmation in a real terminal', () => {
  let home: TestHome;

  beforeAll(async () => {
    home = await createHome();
  });
  afterEach(async () => {
    await tmux('kill-server').catch(() => undefined);
    server += 1;
  });
  afterAll(async () => {
    await tmux('kill-server').catch(() => undefined);
    rmSync(tmuxDir, { recursive: true, force: true });
    await home?.dispose();
  });

  it('service running: "y" switches the relay through the service', async () => {
    await home.startService();
    const s = await inTerminal(home.configFile, 'gpio set 17 on');
    // The relay is active-low in the config: the question says what the line will really do.
    await waitForScreen(s, /Switch relay water-heater \(GPIO 17\) on \(drives the line low\)\? \[y\/N\]/);
    await tmux('send-keys', '-t', s, 'y', 'Enter');
    await waitForScreen(s, /EXIT=0/);
    expect(await screen(s)).toMatch(/GPIO 17: on \(low, active-low, relay water-heater\) \[simulated\]/);
    expect((await home.cli('gpio', 'get', '17')).stdout).toBe(
      'GPIO 17: low (output, relay water-heater) [simulated]\n',
    );
  });

  it('service running: "n" (or just Enter) changes nothing, exit 1', async () => {
    const s = await inTerminal(home.configFile, 'gpio set 17 off');
    await waitForScreen(s, /Switch relay water-heater \(GPIO 17\) off \(drives the line high\)\? \[y\/N\]/);
    await tmux('send-keys', '-t', s, 'Enter');
    await waitForScreen(s, /EXIT=1/);
    expect(await screen(s)).toMatch(/cancelled: GPIO 17 not changed/);
    // Still on from the test before.
    expect((await home.cli('gpio', 'get', '17')).stdout).toBe(
      'GPIO 17: low (output, relay water-heater) [simulated]\n',
    );
    await home.stopService();
  });

  it('service stopped: the question is asked the same way before driving a line directly', async () => {
    const s = await inTerminal(home.configFile, 'gpio set 5 on --simulated');
    await waitForScreen(s, /Switch GPIO 5 on \(drives the line high\)\? \[y\/N\]/);
    await tmux('send-keys', '-t', s, 'y', 'e', 's', 'Enter');
    await waitForScreen(s, /EXIT=0/);
    expect(await screen(s)).toMatch(/GPIO 5: on \(high\) \[simulated\]/);
  });
});
