import type { Command } from 'commander';
import { register as backup } from './backup.js';
import { register as broker } from './broker.js';
import { register as completion } from './completion.js';
import { register as config } from './config.js';
import { register as demo } from './demo.js';
import { register as devices } from './devices.js';
import { register as dlq } from './dlq.js';
import { register as gpio } from './gpio.js';
import { register as i2c } from './i2c.js';
import { register as keys } from './keys.js';
import { register as logs } from './logs.js';
import { register as modbus } from './modbus.js';
import { register as outbox } from './outbox.js';
import { register as readings } from './readings.js';
import { register as restore } from './restore.js';
import { register as run } from './run.js';
import { register as selftest } from './selftest.js';
import { register as sim } from './sim.js';
import { register as status } from './status.js';
import { register as sunspec } from './sunspec.js';
import { register as trades } from './trades.js';

/** Each verb module exports `register(program)`; this list is the CLI's table of contents. */
const verbs: Array<(program: Command) => void> = [
  run,
  demo,
  readings,
  devices,
  config,
  modbus,
  sunspec,
  sim,
  i2c,
  gpio,
  status,
  outbox,
  dlq,
  trades,
  keys,
  broker,
  backup,
  restore,
  selftest,
  logs,
  completion,
];

export function registerCommands(program: Command): void {
  for (const register of verbs) register(program);
}
