import { afterEach, describe, expect, it } from 'vitest';
import { GpioError } from '../../src/devices/gpio/backend.js';
import { findHeaderChip, listGpioChips, sysfsNumber } from '../../src/devices/gpio/chip-base.js';
import { createGpioBackend, gpioUnavailable } from '../../src/devices/gpio/create-backend.js';
import { BOARDS, SysfsTree } from './sysfs-tree.js';

const trees: SysfsTree[] = [];
afterEach(() => {
  for (const t of trees.splice(0)) t.remove();
});

function tree(chips: ConstructorParameters<typeof SysfsTree>[0]): SysfsTree {
  const t = new SysfsTree(chips);
  trees.push(t);
  return t;
}

describe('header chip discovery', () => {
  it('Pi 4 on kernel ≥ 6.6: pinctrl-bcm2711 at base 512, GPIO 17 is sysfs 529', () => {
    const chip = findHeaderChip(tree(BOARDS.pi4Kernel66).root);
    expect(chip).toEqual({ name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 });
    expect(sysfsNumber(chip, 17)).toBe(529);
  });

  it('Pi 5 on kernel ≥ 6.6: pinctrl-rp1 at base 571 (not the SoC chips below it), GPIO 17 is 588', () => {
    const chip = findHeaderChip(tree(BOARDS.pi5Kernel66).root);
    expect(chip).toMatchObject({ label: 'pinctrl-rp1', base: 571, ngpio: 54 });
    expect(sysfsNumber(chip, 17)).toBe(588);
  });

  it('older kernels: base 0 (Pi 4 and Pi 3), GPIO 17 is 17', () => {
    expect(sysfsNumber(findHeaderChip(tree(BOARDS.pi4OldKernel).root), 17)).toBe(17);
    const pi3 = findHeaderChip(tree(BOARDS.pi3OldKernel).root);
    expect(pi3.label).toBe('pinctrl-bcm2835');
    expect(sysfsNumber(pi3, 27)).toBe(27);
  });

  it('no header chip: a clear error listing what was found', () => {
    const t = tree(BOARDS.notAPi);
    expect(() => findHeaderChip(t.root)).toThrow(GpioError);
    expect(() => findHeaderChip(t.root)).toThrow(
      /no Raspberry Pi header GPIO chip in .* \(looked for pinctrl-rp1, pinctrl-bcm2711, pinctrl-bcm2835; found gpiochip0 "gpio-mockup-A"\)/,
    );
    expect(() => findHeaderChip(tree([]).root)).toThrow(/found no gpiochip at all/);
  });

  it('no sysfs GPIO at all: no-gpio', () => {
    const err = (() => {
      try {
        findHeaderChip('/nonexistent/sys/class/gpio');
      } catch (e) {
        return e as GpioError;
      }
    })();
    expect(err?.kind).toBe('no-gpio');
    expect(err?.message).toMatch(/no sysfs GPIO/);
  });

  it('lists chips in base order and skips incomplete entries', () => {
    const t = tree(BOARDS.pi4Kernel66);
    expect(listGpioChips(t.root).map((c) => c.base)).toEqual([512, 570]);
  });

  it('a line beyond the chip is refused', () => {
    const chip = findHeaderChip(tree(BOARDS.pi5Kernel66).root);
    expect(() => sysfsNumber(chip, 54)).toThrow(/GPIO 54 does not exist on pinctrl-rp1 \(lines 0\.\.53\)/);
    expect(() => sysfsNumber(chip, -1)).toThrow(GpioError);
  });
});

describe('choosing the backend on this machine (no sysfs GPIO)', () => {
  it('simulated: true or unset gives the in-memory lines; false is an error saying why', () => {
    expect(createGpioBackend({ simulated: true }).simulated).toBe(true);
    expect(createGpioBackend().simulated).toBe(true);
    expect(() => createGpioBackend({ simulated: false })).toThrow(/no sysfs GPIO on this machine/);
  });
});

describe('why GPIO is unavailable', () => {
  it('names the missing export file', () => {
    const err = gpioUnavailable('/nonexistent/gpio');
    expect(err.kind).toBe('no-gpio');
    expect(err.message).toMatch(/\/nonexistent\/gpio\/export does not exist/);
  });
});
