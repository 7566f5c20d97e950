import { existsSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register as registerGpio } from '../../src/cli/commands/gpio.js';
import { register as registerI2c } from '../../src/cli/commands/i2c.js';
import { ControlClient } from '../../src/control/client/client.js';
import { DEFAULT_CONTROL_SOCKET } from '../../src/control/client/service-call.js';
import { errorText } from '../../src/core/errors.js';
import { hermeticConfig, pinCliConfig, runCli } from '../helpers/cli.js';
import { runVerb } from '../i2c/helpers.js';

pinCliConfig();

/** What the stand-in service answers to every request: a verb that reached it says so. */
const MARK = 'answered by the service on the default control socket';

const root = process.getuid?.() === 0;

/**
 * A Powerdeal service on this machine listens on the default control socket; the tests' CLI verbs must
 * not reach it. The stand-in is a plain listener on that path answering every method with an error
 * naming itself (a real service already there is used as it is).
 */
describe.skipIf(!root)(
  'CLI verbs in the tests ignore a service on the default socket (needs root for /run)',
  () => {
    let server: Server | undefined;
    let madeDir = false;
    let standIn = false;

    beforeAll(async () => {
      const dir = dirname(DEFAULT_CONTROL_SOCKET);
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        madeDir = true;
      }
      const running = await ControlClient.connect(DEFAULT_CONTROL_SOCKET);
      if (running) {
        running.close();
        return;
      }
      rmSync(DEFAULT_CONTROL_SOCKET, { force: true }); // a stale socket nobody listens on
      server = createServer((conn) => {
        let buf = '';
        conn.on('data', (d: Buffer) => {
          buf += d.toString();
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const { id } = JSON.parse(buf.slice(0, i)) as { id: number };
            buf = buf.slice(i + 1);
            conn.write(`${JSON.stringify({ id, ok: false, error: { kind: 'problem', message: MARK } })}\n`);
          }
        });
        conn.on('error', () => conn.destroy()); // a client that went away: nothing to answer
      });
      const s = server;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(DEFAULT_CONTROL_SOCKET, resolve);
      });
      standIn = true;
    });

    afterAll(async () => {
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => s.close(() => resolve()));
        rmSync(DEFAULT_CONTROL_SOCKET, { force: true });
      }
      if (!madeDir) return;
      try {
        rmdirSync(dirname(DEFAULT_CONTROL_SOCKET));
      } catch (err) {
        // A service another test file started without its own socket may have put one there meanwhile.
        console.warn(`left ${dirname(DEFAULT_CONTROL_SOCKET)} in place: ${errorText(err)}`);
      }
    });

    it('the stand-in is where an unpinned verb looks: without a config, gpio get reaches it', async (t) => {
      if (!standIn) t.skip('a real service runs on the default socket: its answers are its own');
      const r = await runCli(['gpio', 'get', '17'], {
        env: { POWERDEAL_CONFIG: join(dirname(hermeticConfig()), 'absent.yaml') },
      });
      expect(r.stderr).toContain(MARK);
    });

    it('gpio get and set, in this process as test/gpio/cli.test.ts runs them: no sysfs GPIO', async () => {
      const get = await runVerb(registerGpio, ['gpio', 'get', '17']);
      expect(get.code).toBe(1);
      expect(get.stderr).toMatch(/no sysfs GPIO on this machine/);
      expect(get.stderr).not.toContain(MARK);
      const set = await runVerb(registerGpio, ['gpio', 'set', '17', 'on', '--yes']);
      expect(set.code).toBe(1);
      expect(set.stderr).toMatch(/no sysfs GPIO/);
      expect(set.stderr).not.toContain(MARK);
    });

    it('i2c scan, in this process as test/i2c/scan-and-profiles.test.ts runs it: no I2C bus here', async () => {
      const r = await runVerb(registerI2c, ['i2c', 'scan']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no I2C bus here: \/dev\/i2c-1 does not exist/);
      expect(r.stderr).not.toContain(MARK);
    });

    it('the spawned CLI (test/helpers/cli.ts) answers directly too', async () => {
      const gpio = await runCli(['gpio', 'get', '17']);
      expect(gpio.code).toBe(1);
      expect(gpio.stderr).toMatch(/no sysfs GPIO on this machine/);
      const i2c = await runCli(['i2c', 'scan']);
      expect(i2c.code).toBe(1);
      expect(i2c.stderr).toMatch(/no I2C bus here/);
      expect(`${gpio.stderr}${i2c.stderr}`).not.toContain(MARK);
    });
  },
);
