import type { ConfigProblem, CrossCheck } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import { hasCapability } from './capabilities.js';
import { capabilitiesOf, FAMILIES, familyOfKind, transportOf } from './families.js';
import type { ProfileFile } from './profile-file.js';

/**
 * The config checks that need the profiles, driven by the family registry: a profile that exists, parses
 * and suits the device's transport, what each family asks of its devices, and a no-export device that
 * can take the limit.
 */
export function deviceChecks(profiles: ReadonlyMap<string, ProfileFile>): CrossCheck[] {
  return [
    (c) => profileChecks(c, profiles),
    (c) => FAMILIES.flatMap((f) => f.checkAll?.(c) ?? []),
    (c) => noExportChecks(c, profiles),
  ];
}

function profileChecks(config: Config, profiles: ReadonlyMap<string, ProfileFile>): ConfigProblem[] {
  return config.devices.flatMap((d, i): ConfigProblem[] => {
    const file = profiles.get(d.profile);
    const family = file && familyOfKind(file.kind);
    if (!file || !family) {
      return [
        {
          path: `devices.${i}.profile`,
          message: `unknown profile "${d.profile}": use one of ${[...profiles.keys()].join(', ')} (or add hardware/profiles/${d.profile}.yaml)`,
        },
      ];
    }
    let profile: unknown;
    try {
      profile = family.profile(file);
    } catch (err) {
      return [{ path: `devices.${i}.profile`, message: `profile file is invalid: ${errorText(err)}` }];
    }
    const problems: ConfigProblem[] = [];
    const have = transportOf(d);
    if (have !== family.transport) {
      problems.push({
        path: `devices.${i}`,
        message: `profile "${d.profile}" is a ${file.kind} device: give it a "${family.transport}" transport, not "${have}"`,
      });
    }
    if (d.load && family.role !== 'switch') {
      problems.push({
        path: `devices.${i}.load`,
        message: 'only a relay (gpio) device switches a load: remove "load"',
      });
    }
    if (have === family.transport) problems.push(...(family.checkDevice?.(d, i, profile) ?? []));
    return problems;
  });
}

/** engine.noExport limits the inverter through SunSpec model 123: it must name a device that can. */
function noExportChecks(config: Config, profiles: ReadonlyMap<string, ProfileFile>): ConfigProblem[] {
  const target = config.engine.noExport?.device;
  if (target === undefined) return [];
  const inverters = config.devices
    .filter((d) => hasCapability({ capabilities: capabilitiesOf(d, profiles) }, 'export-limit'))
    .map((d) => d.id);
  const hint = inverters.length
    ? `name a SunSpec inverter device (${inverters.join(', ')})`
    : 'add the inverter as a modbus device with a SunSpec profile (e.g. sunspec-inverter), or remove engine.noExport';
  const device = config.devices.find((d) => d.id === target);
  if (!device) {
    return [{ path: 'engine.noExport.device', message: `no device "${target}": ${hint}` }];
  }
  if (!inverters.includes(target)) {
    return [
      {
        path: 'engine.noExport.device',
        message: `"${target}" is not a modbus inverter with a SunSpec profile (its export limit cannot be written): ${hint}`,
      },
    ];
  }
  if (!device.enabled) {
    return [{ path: 'engine.noExport.device', message: `"${target}" is disabled: enable it or ${hint}` }];
  }
  return [];
}
