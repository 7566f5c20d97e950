/**
 * What can go wrong on a Modbus request, sorted by what the bus worker must do about it:
 * - `exception`: the device answered "no" (illegal address, busy...). The line is in a known state.
 * - `timeout`: no complete answer in time. A late reply may still come: reset the line before reuse.
 * - `frame`: an answer arrived but was malformed (CRC, length, wrong unit or function). Reset the line.
 * - `connection`: the port or socket is closed, refused or in reconnect backoff.
 * - `value`: the registers arrived but hold no usable value (NaN, absurd scale factor, map changed).
 */
export type ModbusErrorKind = 'exception' | 'timeout' | 'frame' | 'connection' | 'value';

export class ModbusError extends Error {
  constructor(
    readonly kind: ModbusErrorKind,
    message: string,
    /** Modbus exception code for `exception` errors. */
    readonly code?: number,
  ) {
    super(message);
    this.name = 'ModbusError';
  }
}

const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? `exception ${code}`;
}

/** Turns whatever modbus-serial rejected with into a ModbusError (keeping its message). */
export function classifyError(err: unknown, what: string): ModbusError {
  if (err instanceof ModbusError) return err;
  const e = (err ?? {}) as { message?: unknown; errno?: unknown; code?: unknown; modbusCode?: unknown };
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  if (typeof e.modbusCode === 'number') {
    return new ModbusError(
      'exception',
      `${what}: exception ${e.modbusCode} (${exceptionName(e.modbusCode)})`,
      e.modbusCode,
    );
  }
  if (e.errno === 'ETIMEDOUT' || message === 'Timed out') {
    return new ModbusError('timeout', `${what}: no answer (timed out)`);
  }
  if (/CRC error|Data length error|Unexpected data error/.test(message)) {
    return new ModbusError('frame', `${what}: malformed answer (${message})`);
  }
  return new ModbusError('connection', `${what}: ${message}`);
}
