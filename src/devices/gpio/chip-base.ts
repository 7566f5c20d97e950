import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorText } from '../../core/errors.js';
import { GpioError } from './backend.js';

export const DEFAULT_SYSFS_GPIO = '/sys/class/gpio';

/**
 * Labels of the chip that drives the 40-pin header, most specific first: Pi 5 (RP1), Pi 4 (BCM2711),
 * Pi 1–3 and Zero (BCM2835). Other chips (the firmware expander, the Pi 5 SoC's own brcmstb banks) are
 * not on the header.
 */
export const HEADER_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;

export interface GpioChipInfo {
  /** `gpiochip512`. */
  name: string;
  label: string;
  /** First sysfs number of the chip: 0 before kernel 6.6, 512 on a Pi 4 and 571 on a Pi 5 after. */
  base: number;
  ngpio: number;
}

export function listGpioChips(sysfsRoot = DEFAULT_SYSFS_GPIO): GpioChipInfo[] {
  let names: string[];
  try {
    names = readdirSync(sysfsRoot).filter((n) => n.startsWith('gpiochip'));
  } catch (err) {
    throw new GpioError(
      `${sysfsRoot} is not readable (${(err as NodeJS.ErrnoException).code ?? errorText(err)}): this kernel has no sysfs GPIO`,
      'no-gpio',
    );
  }
  const chips: GpioChipInfo[] = [];
  for (const name of names) {
    const dir = join(sysfsRoot, name);
    try {
      const read = (file: string) => readFileSync(join(dir, file), 'utf8').trim();
      const base = Number(read('base'));
      const ngpio = Number(read('ngpio'));
      if (Number.isInteger(base) && Number.isInteger(ngpio)) {
        chips.push({ name, label: read('label'), base, ngpio });
      }
    } catch {
      // A chip directory without label/base/ngpio is not one we can use.
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

/** The header chip, found by label; never assumes a base. */
export function findHeaderChip(sysfsRoot = DEFAULT_SYSFS_GPIO): GpioChipInfo {
  const chips = listGpioChips(sysfsRoot);
  for (const label of HEADER_CHIP_LABELS) {
    const chip = chips.find((c) => c.label === label);
    if (chip) return chip;
  }
  const found =
    chips.length > 0 ? chips.map((c) => `${c.name} "${c.label}"`).join(', ') : 'no gpiochip at all';
  throw new GpioError(
    `no Raspberry Pi header GPIO chip in ${sysfsRoot} (looked for ${HEADER_CHIP_LABELS.join(', ')}; found ${found})`,
    'no-chip',
  );
}

/** The sysfs number of header line `line` (BCM numbering). */
export function sysfsNumber(chip: GpioChipInfo, line: number): number {
  if (!Number.isInteger(line) || line < 0 || line >= chip.ngpio) {
    throw new GpioError(
      `GPIO ${line} does not exist on ${chip.label} (lines 0..${chip.ngpio - 1})`,
      'bad-line',
    );
  }
  return chip.base + line;
}
