import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What the footprint measurements read from the shipped unit (systemd/powerdeal.service). */

const UNIT_PATH = join(resolve(import.meta.dirname, '../..'), 'systemd/powerdeal.service');

/** The V8 flags the unit starts Node with (`--max-…` in ExecStart). */
export function unitNodeFlags(): string[] {
  const execStart = /^ExecStart=(.*)$/m.exec(readFileSync(UNIT_PATH, 'utf8'))?.[1] ?? '';
  return execStart.split(/\s+/).filter((t) => t.startsWith('--max-'));
}

/** The unit's exposure score (0 best, 10 worst), or null where systemd-analyze is missing. */
export function unitExposure(): number | null {
  try {
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', UNIT_PATH], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const score = /Overall exposure level for powerdeal\.service: ([\d.]+)/.exec(out)?.[1];
    return score === undefined ? null : Number(score);
  } catch {
    return null;
  }
}
