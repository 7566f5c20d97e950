import type { Command } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { callService, controlSocketFor, serviceOrDirect } from '../../control/client/service-call.js';
import { hex } from '../../devices/i2c/bus.js';
import { I2cError } from '../../devices/i2c/errors.js';
import { i2cProfileOf } from '../../devices/i2c/profile.js';
import { createI2cBusRegistry, i2cBusPresent } from '../../devices/i2c/registry.js';
import { scanI2c } from '../../devices/i2c/scan.js';
import { seedBench } from '../../devices/i2c/simulate.js';
import { loadProfiles } from '../../devices/profiles.js';
import { dim, noteVia, printJson, table } from '../output.js';

interface ScanOptions {
  bus: string;
  simulated?: boolean;
  json?: boolean;
}

/** `powerdeal i2c scan [--bus N]`: which addresses answer, and which profiles could sit there. */
export function register(program: Command): void {
  const i2c = program.command('i2c').description('I2C sensors (INA219 shunt monitor, TMP102 temperature)');
  i2c
    .command('scan')
    .description('list the addresses that acknowledge on an I2C bus')
    .option('--bus <n>', 'bus number, as in /dev/i2c-N', '1')
    .option('--simulated', 'scan a simulated bus (an INA219 at 0x40, a TMP102 at 0x48) instead of hardware')
    .option('--json', 'machine-readable result')
    .action(async (opts: ScanOptions, cmd: Command) => {
      const busNumber = Number(opts.bus);
      if (!Number.isInteger(busNumber) || busNumber < 0 || busNumber > 255) {
        throw new CliError(`--bus must be a whole number from 0 to 255, got "${opts.bus}"`, EXIT.usage);
      }
      const wantSimulated = opts.simulated === true;
      // The simulated bench bus is this process's own: only real buses belong to the service.
      const { value: scan, via } = wantSimulated
        ? { value: await scanDirect(busNumber, true), via: 'direct' as const }
        : await serviceOrDirect(
            controlSocketFor(cmd),
            (service) =>
              callService<{ addresses: number[]; simulated: boolean }>(service, 'i2c.scan', {
                bus: busNumber,
              }),
            () => scanDirect(busNumber, false),
          );
      const { addresses: found, simulated } = scan;
      const candidates = candidatesByAddress();
      const devices = found.map((address) => ({
        address,
        hex: hex(address),
        candidates: candidates.get(address) ?? [],
      }));
      if (opts.json) {
        printJson({ bus: busNumber, simulated, devices });
        return;
      }
      const where = `i2c-${busNumber}${simulated ? ' (simulated)' : ''}`;
      if (devices.length === 0) {
        process.stdout.write(`${where}: no device answered (check wiring, power and pull-ups)\n`);
        return;
      }
      process.stdout.write(`${where}: ${devices.length} device(s)\n`);
      process.stdout.write(
        `${table(
          ['ADDRESS', 'COULD BE'],
          devices.map((d) => [d.hex, d.candidates.length > 0 ? d.candidates.join(', ') : dim('unknown')]),
        )}\n`,
      );
      noteVia(via);
    });
}

/** Scans a bus from this process (the service is not running, or a simulated bench bus). */
async function scanDirect(
  busNumber: number,
  simulated: boolean,
): Promise<{ addresses: number[]; simulated: boolean }> {
  if (!simulated && !i2cBusPresent(busNumber)) {
    throw new CliError(
      `no I2C bus here: /dev/i2c-${busNumber} does not exist. On a Raspberry Pi enable I2C ` +
        '(sudo raspi-config nonint do_i2c 0, or dtparam=i2c_arm=on in config.txt) and reboot; ' +
        'see docs/hardware-wiring.md. To try the command without hardware: --simulated',
      EXIT.problem,
    );
  }
  const registry = createI2cBusRegistry({ simulated });
  try {
    const fake = registry.simulator(busNumber);
    if (fake) seedBench(fake);
    return { addresses: await scanI2c(registry.bus(busNumber)), simulated };
  } catch (err) {
    if (err instanceof I2cError) throw new CliError(err.message, EXIT.problem);
    throw err;
  } finally {
    await registry.closeAll();
  }
}

/** Address → ids of the I2C profiles whose chip can be strapped there. */
function candidatesByAddress(): Map<number, string[]> {
  const map = new Map<number, string[]>();
  for (const profile of loadProfiles().values()) {
    if (profile.kind !== 'i2c') continue;
    try {
      for (const address of i2cProfileOf(profile).addresses) {
        map.set(address, [...(map.get(address) ?? []), profile.id]);
      }
    } catch {
      // A broken profile is reported by `powerdeal config check`; a scan still lists the addresses.
    }
  }
  return map;
}
