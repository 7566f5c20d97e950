/** Modbus RTU/TCP and SunSpec devices: profiles, codec, bus workers, discovery and CLI helpers. */
export { BusRegistry } from './bus-registry.js';
export { type BusStats, BusWorker, type BusWorkerOptions, type UnitStats } from './bus-worker.js';
export {
  applyScaleFactor,
  decodeRegisters,
  encodeRegisters,
  REGISTER_TYPES,
  type RegisterType,
  RegisterValueError,
  registerCount,
  type WordOrder,
} from './codec.js';
export {
  type BreakerOptions,
  createModbusDevice,
  type ModbusDevice,
  type ModbusDeviceContext,
} from './device.js';
export { classifyError, ModbusError, type ModbusErrorKind } from './errors.js';
export { planReads, type ReadBlock, type Span } from './plan.js';
export {
  MAX_READ_REGISTERS,
  type ModbusProfile,
  ProfileError,
  parseModbusProfile,
  parseRegisterProfile,
  parseSunspecProfile,
  type RegisterProfile,
  type SunspecProfile,
} from './profile-schema.js';
export { discoverSunspec, SUNS_MARKER, type SunspecMap, type SunspecModel } from './sunspec.js';
export {
  type DecodedValue,
  decodeTable,
  dumpSunspec,
  type ReadFormat,
  type ReadTable,
  readTable,
  type ScanHit,
  type SunspecDump,
  scanUnits,
} from './tools.js';
export { type BusAddress, busAddress, describeTransport } from './transport.js';
