import type { Command } from 'commander';
import { register as config } from './config.js';

/** Each verb module exports `register(program)`; this list is the CLI's table of contents. */
const verbs: Array<(program: Command) => void> = [config];

export function registerCommands(program: Command): void {
  for (const register of verbs) register(program);
}
