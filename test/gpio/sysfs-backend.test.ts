import { afterEach, describe, expect, it } from 'vitest';
import { GpioError } from '../../src/devices/gpio/backend.js';
import { createRelay } from '../../src/devices/gpio/relay.js';
import { createSysfsGpioBackend } from '../../src/devices/gpio/sysfs-backend.js';
import { silentLogger } from '../../src/log/logger.js';
import { deviceConfig, profile } from '../i2c/helpers.js';
import { SimKernel } from './onoff-standin.js';
import { BOARDS, SysfsTree } from './sysfs-tree.js';

let tree: SysfsTree | undefined;
afterEach(() => {
  tree?.remove();
  tree = undefined;
});

/** A Pi 4 on kernel 6.6: header base 512. */
function setup() {
  tree = new SysfsTree(BOARDS.pi4Kernel66);
  const kernel = new SimKernel();
  const backend = createSysfsGpioBackend({ Gpio: kernel.gpioClass(), sysfsRoot: tree.root });
  return { kernel, backend };
}

function relayOn(backend: ReturnType<typeof setup>['backend'], gpio: Record<string, unknown>) {
  const cfg = deviceConfig({ id: 'water-heater', profile: 'relay', gpio, load: { powerW: 2000 } });
  return createRelay(cfg, profile('relay'), { gpio: backend, log: silentLogger() });
}

describe('sysfs outputs (relays)', () => {
  it('open at the safe level in one step: direction high/low, never out, no direction rewrite', async () => {
    const { kernel, backend } = setup();
    const relay = relayOn(backend, { line: 17, activeLow: true });
    await relay.start();
    expect(kernel.constructed).toEqual([
      { n: 529, direction: 'high', edge: 'none', options: { activeLow: false, reconfigureDirection: false } },
    ]);
    // Active-low relay, safe = off = physical high: the pin was never low.
    expect(kernel.eventsFor(529).map((e) => e.raw)).toEqual([1, 1]);
    await relay.set(true);
    expect(kernel.raw(529)).toBe(0);
    await relay.set(false);
    expect(kernel.raw(529)).toBe(1);
  });

  it('a line left exported by an earlier run, with active_low set, is brought to the safe level by a write, not flipped', async () => {
    const { kernel, backend } = setup();
    // Left on by a crashed run (active-low relay on = physical low), with active_low = 1 in sysfs.
    kernel.preexport(529, { direction: 'out', raw: 0, activeLow: true });
    const relay = relayOn(backend, { line: 17, activeLow: true });
    await relay.start();
    // No direction write (already an output); active_low reset to 0 so physical levels mean what
    // they say; then one write to the safe level.
    expect(kernel.eventsFor(529)).toEqual([{ n: 529, raw: 1, cause: 'write' }]);
    expect(kernel.lines.get(529)?.activeLow).toBe(false);
    expect(await relay.get()).toBe(false);
  });

  it('stop leaves the relay at its safe level and exported', async () => {
    const { kernel, backend } = setup();
    const relay = relayOn(backend, { line: 22, activeLow: false });
    await relay.start();
    await relay.set(true);
    expect(kernel.raw(534)).toBe(1);
    await relay.stop();
    expect(kernel.raw(534)).toBe(0);
    expect(kernel.unexported).toEqual([]);
    expect(kernel.lines.has(534)).toBe(true);
  });

  it('safeState on, active-high: opens with direction high', async () => {
    const { kernel, backend } = setup();
    const relay = relayOn(backend, { line: 5, activeLow: false, safeState: 'on' });
    await relay.start();
    expect(kernel.constructed[0]?.direction).toBe('high');
    expect(kernel.eventsFor(517).every((e) => e.raw === 1)).toBe(true);
  });

  it('export errors become GPIO errors with the fix; the relay degrades instead of throwing', async () => {
    const { kernel, backend } = setup();
    kernel.exportError = 'EACCES';
    await expect(backend.output(17, { activeLow: false, initial: false })).rejects.toThrow(
      /GPIO 17 \(sysfs 529\): permission denied: add the service user to the gpio group/,
    );
    kernel.exportError = 'EBUSY';
    await expect(backend.output(2, { activeLow: false, initial: false })).rejects.toMatchObject({
      kind: 'busy',
    });
    const relay = relayOn(backend, { line: 17, activeLow: true });
    await relay.start();
    expect(relay.health()).toMatchObject({ state: 'fault', transport: 'gpio 17 active-low' });
    kernel.exportError = null;
    await relay.set(false);
    expect(relay.health().state).toBe('ok');
    expect(kernel.eventsFor(529).every((e) => e.raw === 1)).toBe(true);
  });

  it('a line the header chip does not have is refused before touching sysfs', async () => {
    const { kernel, backend } = setup();
    await expect(backend.output(60, { activeLow: false, initial: false })).rejects.toBeInstanceOf(GpioError);
    expect(kernel.constructed).toEqual([]);
  });
});

describe('sysfs inputs', () => {
  it('reports logical changes with active-low inverted and unexports on close', async () => {
    const { kernel, backend } = setup();
    const input = await backend.input(27, { activeLow: true, edge: 'both', debounceMs: 0 });
    expect(kernel.constructed[0]).toMatchObject({ n: 539, direction: 'in', edge: 'both' });
    kernel.drive(539, 1); // pull-up idle level
    const seen: boolean[] = [];
    input.watch((on) => seen.push(on));
    kernel.drive(539, 0); // pressed
    kernel.drive(539, 1); // released
    expect(seen).toEqual([true, false]);
    expect(await input.read()).toBe(false);
    await input.close();
    expect(kernel.unexported).toEqual([539]);
  });
});

describe('inspect (gpio get)', () => {
  it('reads an exported line from sysfs without reconfiguring it', async () => {
    const { kernel, backend } = setup();
    // Exported output, active_low 1, value 1: physically low.
    tree!.exportLine(529, { direction: 'out', value: 1, activeLow: 1 });
    expect(await backend.inspect(17)).toEqual({ line: 17, sysfsNumber: 529, direction: 'out', high: false });
    expect(kernel.constructed).toEqual([]);
  });

  it('borrows an unexported line as an input and gives it back', async () => {
    const { kernel, backend } = setup();
    expect(await backend.inspect(4)).toEqual({ line: 4, sysfsNumber: 516, direction: 'in', high: false });
    expect(kernel.unexported).toEqual([516]);
  });
});
