import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ChipSpec {
  base: number;
  ngpio: number;
  label: string;
}

/** Builds a /sys/class/gpio-like tree in a temp dir: gpiochipN/{label,base,ngpio} and an export file. */
export class SysfsTree {
  readonly root: string;

  constructor(chips: ChipSpec[]) {
    this.root = mkdtempSync(join(tmpdir(), 'powerdeal-gpio-'));
    writeFileSync(join(this.root, 'export'), '');
    writeFileSync(join(this.root, 'unexport'), '');
    for (const c of chips) {
      const dir = join(this.root, `gpiochip${c.base}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'label'), `${c.label}\n`);
      writeFileSync(join(dir, 'base'), `${c.base}\n`);
      writeFileSync(join(dir, 'ngpio'), `${c.ngpio}\n`);
    }
  }

  /** An exported line as sysfs shows it (value is the logical value, after active_low). */
  exportLine(n: number, state: { direction: 'in' | 'out'; value: 0 | 1; activeLow: 0 | 1 }): void {
    const dir = join(this.root, `gpio${n}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'direction'), `${state.direction}\n`);
    writeFileSync(join(dir, 'value'), `${state.value}\n`);
    writeFileSync(join(dir, 'active_low'), `${state.activeLow}\n`);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Chips as the kernel lists them on real boards. */
export const BOARDS = {
  pi4OldKernel: [
    { base: 0, ngpio: 58, label: 'pinctrl-bcm2711' },
    { base: 504, ngpio: 8, label: 'raspberrypi-exp-gpio' },
  ],
  pi4Kernel66: [
    { base: 512, ngpio: 58, label: 'pinctrl-bcm2711' },
    { base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' },
  ],
  pi5Kernel66: [
    { base: 512, ngpio: 32, label: 'gpio-brcmstb@107d508500' },
    { base: 544, ngpio: 4, label: 'gpio-brcmstb@107d508520' },
    { base: 548, ngpio: 17, label: 'gpio-brcmstb@107d517c00' },
    { base: 565, ngpio: 6, label: 'gpio-brcmstb@107d517c20' },
    { base: 571, ngpio: 54, label: 'pinctrl-rp1' },
  ],
  pi3OldKernel: [{ base: 0, ngpio: 54, label: 'pinctrl-bcm2835' }],
  notAPi: [{ base: 0, ngpio: 32, label: 'gpio-mockup-A' }],
} satisfies Record<string, ChipSpec[]>;
