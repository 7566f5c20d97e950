import type { Command } from 'commander';
import { EXIT } from '../../control/client/exit-codes.js';
import { systemClock } from '../../core/clock.js';
import type { DeviceHealth } from '../../devices/device.js';
import { silentLogger } from '../../log/logger.js';
import { buildHardware, hardwareIsSimulated } from '../../service/hardware.js';
import { loadVerbConfig } from '../config-context.js';
import { DaemonClient } from '../daemon-client.js';
import { devicesTable } from '../format-readings.js';
import { dim, printJson } from '../output.js';

/**
 * `powerdeal devices`: each device's health. With the service running it asks the service (the bus is
 * never opened twice); with it stopped it probes every device once itself.
 */
export function register(program: Command): void {
  program
    .command('devices')
    .description('show every configured device: state, breaker, latency, last error')
    .option('--json', 'machine-readable output')
    .option('--simulated', 'probe with the in-memory GPIO/I2C backends (no service running)')
    .action(async (opts: { json?: boolean; simulated?: boolean }, cmd: Command) => {
      const loaded = loadVerbConfig(cmd);
      let devices = await new DaemonClient(loaded.config).get<DeviceHealth[]>('/api/devices');
      const source = devices ? 'service' : 'probe';
      if (!devices) devices = await probeDevices(loaded, opts.simulated ?? hardwareIsSimulated());
      if (opts.json) printJson({ source, devices });
      else {
        process.stdout.write(`${devicesTable(devices, Date.now())}\n`);
        process.stdout.write(
          `${dim(source === 'service' ? 'from the running service' : 'probed directly (service not running)')}\n`,
        );
      }
      process.exitCode = devices.some((d) => d.state !== 'ok') ? EXIT.problem : EXIT.ok;
    });
}

/** Builds the configured hardware in this process, reads every device once, and reports its health. */
export async function probeDevices(
  loaded: ReturnType<typeof loadVerbConfig>,
  simulated: boolean,
): Promise<DeviceHealth[]> {
  const hw = await buildHardware({
    config: loaded.config,
    profiles: loaded.profiles,
    log: silentLogger(),
    clock: systemClock,
    now: systemClock.now,
    simulated,
    version: '',
  });
  try {
    // A failed read is what the report is about: each device keeps it in its health, shown below.
    await Promise.all(hw.devices.map((d) => d.read().catch(() => undefined)));
    return hw.health();
  } finally {
    await hw.stop();
  }
}
