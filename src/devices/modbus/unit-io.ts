import type { BusWorker } from './bus-worker.js';
import type { RegisterFunction } from './profile-schema.js';

/** One unit on a bus, with the device's own request timeout. */
export interface UnitIO {
  read(fn: RegisterFunction, address: number, count: number): Promise<number[]>;
  write(address: number, values: number[]): Promise<void>;
}

export function unitIO(bus: BusWorker, unitId: number, timeoutMs: number): UnitIO {
  return {
    read: (fn, address, count) => bus.readRegisters(unitId, fn, address, count, timeoutMs),
    write: (address, values) => bus.writeRegisters(unitId, address, values, timeoutMs),
  };
}
