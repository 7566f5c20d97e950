import type { Command } from 'commander';

type Verb = () => Promise<{ register(program: Command): void }>;

/**
 * The CLI's table of contents: each verb module exports `register(program)`. Modules load on demand,
 * so `powerdeal run` (the service, for years) does not carry the demo's embedded broker, the simulator
 * or the technician's probes in its memory.
 */
const verbs: Record<string, Verb> = {
  run: () => import('./run.js'),
  demo: () => import('./demo.js'),
  readings: () => import('./readings.js'),
  devices: () => import('./devices.js'),
  config: () => import('./config.js'),
  modbus: () => import('./modbus.js'),
  sunspec: () => import('./sunspec.js'),
  sim: () => import('./sim.js'),
  i2c: () => import('./i2c.js'),
  gpio: () => import('./gpio.js'),
  status: () => import('./status.js'),
  outbox: () => import('./outbox.js'),
  dlq: () => import('./dlq.js'),
  trades: () => import('./trades.js'),
  keys: () => import('./keys.js'),
  broker: () => import('./broker.js'),
  backup: () => import('./backup.js'),
  restore: () => import('./restore.js'),
  selftest: () => import('./selftest.js'),
  logs: () => import('./logs.js'),
  completion: () => import('./completion.js'),
};

/** Program options that take a value, so their value is not taken for the verb. */
const VALUE_OPTIONS = new Set(['--config']);

/** The verb `args` (after node and the script) asks for, if it names one. */
export function requestedVerb(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) return Object.hasOwn(verbs, a) ? a : undefined;
  }
  return undefined;
}

/**
 * Registers the verb `args` asks for, or every verb when it names none (help, a typo: commander then
 * lists or suggests them) or asks for `completion`, which walks the whole tree.
 */
export async function registerCommands(program: Command, args: readonly string[] = []): Promise<void> {
  const verb = requestedVerb(args);
  const names = verb === undefined || verb === 'completion' ? Object.keys(verbs) : [verb];
  for (const name of names) (await (verbs[name] as Verb)()).register(program);
}
