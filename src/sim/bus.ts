import type { SimFault } from './faults.js';
import { answerPdu, EXCEPTION, exceptionPdu, type SimUnit } from './modbus-pdu.js';
import { mulberry32 } from './prng.js';

/** A simulated device with a switch that makes its measurements read NaN / not implemented. */
export interface FaultableUnit extends SimUnit {
  nan: boolean;
}

/** What a unit sends back for one request: nothing, or a PDU the transport may still mangle. */
export type Reply = null | { pdu: Buffer; mangle: 'garbage' | 'truncated' | null };

/**
 * The units sharing one line (or one TCP gateway) and the fault each is in. The servers frame requests
 * and replies; this decides what each unit answers.
 */
export class SimBus {
  private readonly faults = new Map<number, SimFault>();
  /** Randomness for garbage answers, seeded so a failing run can be replayed. */
  readonly random: () => number;

  constructor(
    private readonly units: ReadonlyMap<number, FaultableUnit>,
    seed: number,
  ) {
    this.random = mulberry32(seed ^ 0x6a09e667);
  }

  has(unitId: number): boolean {
    return this.units.has(unitId);
  }

  unitIds(): number[] {
    return [...this.units.keys()];
  }

  fault(unitId: number): SimFault {
    return this.faults.get(unitId) ?? 'none';
  }

  setFault(target: number | 'all', fault: SimFault): void {
    const ids = target === 'all' ? this.unitIds() : [target];
    for (const id of ids) {
      const unit = this.units.get(id);
      if (!unit) throw new Error(`no simulated unit ${id} (units: ${this.unitIds().join(', ')})`);
      this.faults.set(id, fault);
      unit.nan = fault === 'nan';
    }
  }

  /** The answer of `unitId` to a request PDU; null when it stays silent or is not on the bus. */
  handle(unitId: number, request: Buffer): Reply {
    const unit = this.units.get(unitId);
    if (!unit) return null;
    const fault = this.fault(unitId);
    if (fault === 'silence') return null;
    if (fault === 'exception') {
      return { pdu: exceptionPdu(request[0] ?? 0, EXCEPTION.slaveDeviceFailure), mangle: null };
    }
    const pdu = answerPdu(unit, request);
    return { pdu, mangle: fault === 'garbage' || fault === 'truncated' ? fault : null };
  }
}
