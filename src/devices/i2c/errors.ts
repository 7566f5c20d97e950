import { errorText } from '../../core/errors.js';
/**
 * What went wrong on an I2C bus, in words a technician can act on. The kernel reports a missing
 * acknowledge as EREMOTEIO (bcm2835) or ENXIO (most other adapters); a clock-stretching or arbitration
 * problem as ETIMEDOUT, EIO or EAGAIN. Those are worth a quick retry; a missing bus or permission is not.
 */
export type I2cErrorKind = 'nack' | 'io' | 'no-bus' | 'permission' | 'busy' | 'closed' | 'data';

const NACK_CODES = new Set(['EREMOTEIO', 'ENXIO']);
const TRANSIENT_CODES = new Set(['EREMOTEIO', 'ENXIO', 'ETIMEDOUT', 'EIO', 'EAGAIN']);

export class I2cError extends Error {
  constructor(
    message: string,
    readonly kind: I2cErrorKind,
    /** The errno name from the kernel, when there was one. */
    readonly code?: string,
    /** How many times the transaction was tried. */
    readonly attempts = 1,
  ) {
    super(message);
    this.name = 'I2cError';
  }
}

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isTransient(err: unknown): boolean {
  const code = errnoCode(err);
  return code !== undefined && TRANSIENT_CODES.has(code);
}

export function isNack(err: unknown): boolean {
  const code = errnoCode(err);
  return code !== undefined && NACK_CODES.has(code);
}

/** Wraps an error from the bus adapter into an I2cError with a hint for the common causes. */
export function toI2cError(err: unknown, where: string, busNumber: number, attempts = 1): I2cError {
  if (err instanceof I2cError) return err;
  const code = errnoCode(err);
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  const dev = `/dev/i2c-${busNumber}`;
  switch (code) {
    case 'EREMOTEIO':
    case 'ENXIO':
      return new I2cError(
        `${where}: no acknowledge${tries} (${code}): check the wiring, the address and the sensor's power`,
        'nack',
        code,
        attempts,
      );
    case 'ENOENT':
      return new I2cError(
        `${dev} does not exist: enable I2C (sudo raspi-config nonint do_i2c 0, or dtparam=i2c_arm=on) and reboot`,
        'no-bus',
        code,
        attempts,
      );
    case 'EACCES':
    case 'EPERM':
      return new I2cError(
        `${dev}: permission denied: add the service user to the i2c group`,
        'permission',
        code,
        attempts,
      );
    case 'EBUSY':
      return new I2cError(
        `${where}: address claimed by a kernel driver (EBUSY): unbind it or remove its dtoverlay`,
        'busy',
        code,
        attempts,
      );
    default: {
      const text = errorText(err);
      return new I2cError(
        `${where}: ${text}${tries}`,
        code !== undefined && TRANSIENT_CODES.has(code) ? 'io' : 'data',
        code,
        attempts,
      );
    }
  }
}
