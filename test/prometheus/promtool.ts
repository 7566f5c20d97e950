import { spawnSync } from 'node:child_process';

/** Debian's promtool (package prometheus, installed by scripts/install-test-deps.sh), or null without it. */
export const PROMTOOL: string | null = spawnSync('promtool', ['--version']).error ? null : 'promtool';

export const NO_PROMTOOL =
  'promtool is not installed (sudo scripts/install-test-deps.sh installs prometheus)';
