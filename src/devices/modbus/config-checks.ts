import type { ConfigProblem } from '../../config/load.js';
import type { Config, ModbusConfig } from '../../config/schema.js';
import { busAddress } from './transport.js';

/** Devices sharing a Modbus bus: one unit id each, and one serial setting per RTU line. */
export function sharedBusChecks(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const buses = new Map<string, { index: number; m: ModbusConfig }>();
  const units = new Map<string, number>();
  config.devices.forEach((d, i) => {
    if (!d.modbus) return;
    // The runtime's bus key: a udev symlink and the device it points at are one bus.
    const key = busAddress(d.modbus).key;
    const unitKey = `${key}#${d.modbus.unitId}`;
    const other = units.get(unitKey);
    if (other !== undefined) {
      problems.push({
        path: `devices.${i}.modbus.unitId`,
        message: `unit ${d.modbus.unitId} on ${key} is already devices.${other}: give each device on a bus its own unitId`,
      });
    } else units.set(unitKey, i);
    const first = buses.get(key);
    if (!first) {
      buses.set(key, { index: i, m: d.modbus });
      return;
    }
    if (d.modbus.rtu) {
      for (const k of ['baudRate', 'parity', 'dataBits', 'stopBits'] as const) {
        if (first.m[k] !== d.modbus[k]) {
          problems.push({
            path: `devices.${i}.modbus.${k}`,
            message: `shares ${d.modbus.rtu} with devices.${first.index} but has ${k} ${d.modbus[k]} instead of ${first.m[k]}: one serial line has one setting`,
          });
        }
      }
    }
  });
  return problems;
}
