import { describe, expect, it } from 'vitest';
import { FakeGpioBackend } from '../../src/devices/gpio/fake-backend.js';
import { createRelay } from '../../src/devices/gpio/relay.js';
import { ProfileError } from '../../src/devices/profile-error.js';
import type { ProfileFile } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { deviceConfig, profile } from '../i2c/helpers.js';

function relay(gpio: FakeGpioBackend, g: Record<string, unknown>, p: ProfileFile = profile('relay')) {
  const cfg = deviceConfig({ id: 'water-heater', profile: 'relay', gpio: g, load: { powerW: 2000 } });
  return createRelay(cfg, p, { gpio, log: silentLogger(), now: () => 42 });
}

describe('relay on active-low module (safe = off = physical high)', () => {
  it('is never driven low during initialisation, and on/off invert', async () => {
    const gpio = new FakeGpioBackend();
    const r = relay(gpio, { line: 17, activeLow: true });
    expect(r.safeState).toBe(false);
    await r.start();
    expect(gpio.writesTo(17)).toEqual([{ line: 17, high: true, cause: 'open' }]);
    expect(gpio.direction(17)).toBe('out');
    expect(await r.get()).toBe(false);
    await r.set(true);
    expect(gpio.level(17)).toBe(false);
    expect(await r.get()).toBe(true);
    await r.set(false);
    expect(gpio.level(17)).toBe(true);
    expect(r.health()).toMatchObject({
      id: 'water-heater',
      profile: 'relay',
      transport: 'gpio 17 active-low',
      state: 'ok',
      lastSuccessTs: 42,
    });
  });

  it('writes are idempotent: the same state twice is one write', async () => {
    const gpio = new FakeGpioBackend();
    const r = relay(gpio, { line: 17, activeLow: true });
    await r.start();
    await r.set(true);
    await r.set(true);
    await r.set(false);
    await r.set(false);
    expect(gpio.writesTo(17).map((w) => [w.cause, w.high])).toEqual([
      ['open', true],
      ['write', false],
      ['write', true],
    ]);
  });

  it('concurrent sets are applied in call order', async () => {
    const gpio = new FakeGpioBackend();
    const r = relay(gpio, { line: 17, activeLow: false });
    await r.start();
    await Promise.all([r.set(true), r.set(false), r.set(true)]);
    expect(gpio.writesTo(17).map((w) => w.high)).toEqual([false, true, false, true]);
    expect(gpio.level(17)).toBe(true);
  });

  it('stop goes back to the safe state', async () => {
    const gpio = new FakeGpioBackend();
    const r = relay(gpio, { line: 17, activeLow: true });
    await r.start();
    await r.set(true);
    await r.stop();
    expect(gpio.level(17)).toBe(true);
    await expect(r.get()).rejects.toThrow(/not started/);
  });
});

describe('relay whose safe state is on', () => {
  it('opens on and returns on at stop', async () => {
    const gpio = new FakeGpioBackend();
    const r = relay(gpio, { line: 6, activeLow: false, safeState: 'on' });
    expect(r.safeState).toBe(true);
    await r.start();
    expect(gpio.writesTo(6)).toEqual([{ line: 6, high: true, cause: 'open' }]);
    await r.set(false);
    await r.stop();
    expect(gpio.level(6)).toBe(true);
  });
});

describe('relay faults', () => {
  it('a line that cannot be opened: start does not throw, set fails, then recovers via the safe state', async () => {
    const gpio = new FakeGpioBackend();
    gpio.fail(17, 'EACCES: permission denied');
    const r = relay(gpio, { line: 17, activeLow: true });
    await r.start();
    expect(r.health()).toMatchObject({ state: 'fault', consecutiveFailures: 1 });
    expect(r.health().lastError).toMatch(/gpio 17 active-low: GPIO 17: EACCES/);
    await expect(r.set(true)).rejects.toThrow(/EACCES/);
    gpio.heal(17);
    await r.set(true);
    expect(gpio.writesTo(17)).toEqual([
      { line: 17, high: true, cause: 'open' },
      { line: 17, high: false, cause: 'write' },
    ]);
    expect(r.health()).toMatchObject({ state: 'ok', consecutiveFailures: 0, failures: 2 });
  });

  it('after a failed write the state is unknown, so the next set writes again', async () => {
    const gpio = new FakeGpioBackend();
    const r = relay(gpio, { line: 17, activeLow: false });
    await r.start();
    gpio.fail(17);
    await expect(r.set(true)).rejects.toThrow(/EIO/);
    gpio.heal(17);
    await r.set(false);
    expect(gpio.writesTo(17).map((w) => w.cause)).toEqual(['open', 'write']);
  });

  it('a profile that is not a gpio output is refused with its file', () => {
    const gpio = new FakeGpioBackend();
    const p = profile('relay');
    expect(() => relay(gpio, { line: 17 }, { ...p, body: { ...p.body, direction: 'input' } })).toThrow(
      /relay\.yaml: invalid gpio profile\n {2}- direction: direction must be "output"/,
    );
    expect(() => relay(gpio, { line: 17 }, profile('tmp102'))).toThrow(ProfileError);
  });
});
