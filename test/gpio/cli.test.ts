import type { Command } from 'commander';
import { Gpio } from 'onoff';
import { describe, expect, it } from 'vitest';
import { type GpioCliDeps, register } from '../../src/cli/commands/gpio.js';
import { FakeGpioBackend } from '../../src/devices/gpio/fake-backend.js';
import { pinCliConfig } from '../helpers/cli.js';
import { runVerb } from '../i2c/helpers.js';

// The verbs run in this process: a service on this machine's default socket must not answer them.
pinCliConfig();

/** The verbs with a shared fake backend, a chosen terminal and scripted confirmation answers. */
function withFake(opts: { interactive?: boolean; answers?: boolean[] } = {}) {
  const gpio = new FakeGpioBackend();
  const questions: string[] = [];
  const deps: Partial<GpioCliDeps> = {
    backend: async () => gpio,
    interactive: () => opts.interactive ?? false,
    confirm: async (q) => {
      questions.push(q);
      return opts.answers?.shift() ?? false;
    },
  };
  return { gpio, questions, reg: (p: Command) => register(p, deps) };
}

describe('powerdeal gpio on this machine (no sysfs GPIO)', () => {
  it('the precondition holds: onoff says GPIO is not accessible here', () => {
    expect(Gpio.accessible).toBe(false);
  });

  it('gpio get: exit 1 with the reason and the --simulated hint', async () => {
    const r = await runVerb(register, ['gpio', 'get', '17']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no sysfs GPIO on this machine \(\/sys\/class\/gpio\/export does not exist\)/);
    expect(r.stderr).toMatch(/--simulated/);
  });

  it('gpio set --yes: exit 1, nothing driven', async () => {
    const r = await runVerb(register, ['gpio', 'set', '17', 'on', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no sysfs GPIO/);
  });

  it('--simulated works without hardware', async () => {
    const get = await runVerb(register, ['gpio', 'get', '17', '--simulated', '--json']);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({
      line: 17,
      sysfsNumber: null,
      direction: 'in',
      level: 'low',
      simulated: true,
    });
    const set = await runVerb(register, ['gpio', 'set', '17', 'on', '--active-low', '--yes', '--simulated']);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe('GPIO 17: on (low, active-low) [simulated]\n');
  });
});

describe('gpio set confirmation', () => {
  it('without a terminal and without --yes it refuses with exit 2 and drives nothing', async () => {
    const { gpio, reg } = withFake({ interactive: false });
    const r = await runVerb(reg, ['gpio', 'set', '17', 'on']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to switch GPIO 17 without confirmation: .*pass --yes/);
    expect(gpio.writes).toEqual([]);
  });

  it('on a terminal it asks; "no" changes nothing (exit 1)', async () => {
    const { gpio, questions, reg } = withFake({ interactive: true, answers: [false] });
    const r = await runVerb(reg, ['gpio', 'set', '17', 'on', '--active-low']);
    expect(questions).toEqual(['Switch GPIO 17 on (drives the line low)? [y/N] ']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cancelled: GPIO 17 not changed/);
    expect(gpio.writes).toEqual([]);
  });

  it('on a terminal, "yes" drives the line; the line goes straight to the wanted level', async () => {
    const { gpio, reg } = withFake({ interactive: true, answers: [true] });
    const r = await runVerb(reg, ['gpio', 'set', '17', 'on', '--active-low', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      line: 17,
      on: true,
      level: 'low',
      activeLow: true,
      simulated: true,
    });
    expect(gpio.writesTo(17).every((w) => w.high === false)).toBe(true);
    expect(gpio.direction(17)).toBe('out');
  });

  it('--yes skips the question', async () => {
    const { gpio, questions, reg } = withFake({ interactive: true });
    const r = await runVerb(reg, ['gpio', 'set', '5', 'off', '--yes']);
    expect(r.code).toBe(0);
    expect(questions).toEqual([]);
    expect(gpio.level(5)).toBe(false);
    expect(r.stdout).toBe('GPIO 5: off (low) [simulated]\n');
  });
});

describe('gpio get', () => {
  it('shows an output’s level without changing it', async () => {
    const { gpio, reg } = withFake();
    const line = await gpio.output(22, { activeLow: false, initial: true });
    const before = gpio.writes.length;
    const r = await runVerb(reg, ['gpio', 'get', '22']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('GPIO 22: high (output) [simulated]\n');
    expect(gpio.writes.length).toBe(before);
    expect(gpio.direction(22)).toBe('out');
    await line.close();
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [['gpio', 'get', 'seventeen']],
    [['gpio', 'get', '64']],
    [['gpio', 'set', '17', 'maybe', '--yes']],
    [['gpio', 'set', '17']],
  ])('%j', async (args) => {
    const { gpio, reg } = withFake();
    const r = await runVerb(reg, args);
    expect(r.code).toBe(2);
    expect(gpio.writes).toEqual([]);
  });
});
