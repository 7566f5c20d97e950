/**
 * Register-level models of the I2C chips Powerdeal knows, for the simulated bus. They answer with the
 * bytes the real chip puts on the wire (high byte first) and follow a settable physical truth, so the
 * whole driver path (byte order, decoding, flags, calibration) runs against them unchanged.
 */
export interface FakeI2cChip {
  readonly model: string;
  /** The bytes the chip sends for a read that starts at `register`, in wire order. */
  read(register: number, length: number): number[];
  /** Bytes the controller wrote after the register pointer, in wire order. */
  write(register: number, bytes: number[]): void;
  /** A receive-byte: reads at the current register pointer. */
  receive(): number;
  /** Power-on reset, as after unplugging and plugging the sensor back. */
  reset(): void;
}

/** A chip whose registers are 16-bit words sent high byte first. */
export abstract class Register16Chip implements FakeI2cChip {
  abstract readonly model: string;
  private pointer = 0;

  /** The word the chip returns at `register` now (computed registers follow the physical truth). */
  protected abstract value(register: number): number;
  /** Stores a written word; registers that are read-only ignore writes. */
  protected abstract store(register: number, word: number): void;
  abstract reset(): void;

  read(register: number, length: number): number[] {
    this.pointer = register;
    const word = this.value(register) & 0xffff;
    return [word >> 8, word & 0xff].slice(0, length);
  }

  write(register: number, bytes: number[]): void {
    this.pointer = register;
    // A pointer-only write (no data) just moves the pointer, as on the real chips.
    if (bytes.length < 2) return;
    this.store(register, ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0));
  }

  receive(): number {
    return this.read(this.pointer, 1)[0] ?? 0;
  }
}

export interface FakeIna219Options {
  /** The shunt actually fitted, in ohms. */
  shuntOhms?: number;
  currentA?: number;
  busVoltageV?: number;
  /** Time from a mode write (or a power read) to the next completed conversion (12-bit shunt + bus). */
  conversionMs?: number;
}

const INA219_DEFAULT_CONFIG = 0x399f;
const INA219_SHUNT_LSB_V = 10e-6;
const INA219_BUS_LSB_V = 0.004;

/**
 * TI INA219: configuration 0x00, shunt voltage 0x01, bus voltage 0x02 (bits 15..3, CNVR bit 1, OVF
 * bit 0), power 0x03, current 0x04, calibration 0x05. Current and power come from the calibration as
 * on the chip, OVF included; CNVR clears on a mode write or a power read until the next conversion.
 */
export class FakeIna219 extends Register16Chip {
  readonly model = 'ina219';
  readonly shuntOhms: number;
  currentA: number;
  busVoltageV: number;
  private readonly conversionMs: number;
  private config = INA219_DEFAULT_CONFIG;
  private calibration = 0;
  private readyAt = 0;

  constructor(opts: FakeIna219Options = {}) {
    super();
    this.shuntOhms = opts.shuntOhms ?? 0.1;
    this.currentA = opts.currentA ?? 0;
    this.busVoltageV = opts.busVoltageV ?? 0;
    this.conversionMs = opts.conversionMs ?? 1.1;
    this.reset();
  }

  set(truth: { currentA?: number; busVoltageV?: number }): void {
    if (truth.currentA !== undefined) this.currentA = truth.currentA;
    if (truth.busVoltageV !== undefined) this.busVoltageV = truth.busVoltageV;
  }

  reset(): void {
    this.config = INA219_DEFAULT_CONFIG;
    this.calibration = 0;
    this.startConversion();
  }

  /** Raw register contents, for tests that check what the driver wrote. */
  registers(): { config: number; calibration: number } {
    return { config: this.config, calibration: this.calibration };
  }

  protected value(register: number): number {
    switch (register) {
      case 0x00:
        return this.config;
      case 0x01:
        return this.shuntRaw() & 0xffff;
      case 0x02: {
        const bus = Math.min(8191, Math.max(0, Math.round(this.busVoltageV / INA219_BUS_LSB_V)));
        const cnvr = performance.now() >= this.readyAt ? 0b10 : 0;
        return (bus << 3) | cnvr | (this.overflow() ? 1 : 0);
      }
      case 0x03: {
        const power = this.powerRaw();
        this.startConversion();
        return power & 0xffff;
      }
      case 0x04:
        return this.currentRaw() & 0xffff;
      case 0x05:
        return this.calibration;
      default:
        return 0;
    }
  }

  protected store(register: number, word: number): void {
    if (register === 0x00) {
      if (word & 0x8000) {
        this.reset();
        return;
      }
      this.config = word;
      this.startConversion();
    } else if (register === 0x05) {
      // Bit 0 of the calibration register is not implemented and reads 0.
      this.calibration = word & 0xfffe;
    }
  }

  private startConversion(): void {
    this.readyAt = performance.now() + this.conversionMs;
  }

  /** Shunt voltage in 10 µV counts, clipped to the PGA range (±40 mV × 2^PG). */
  private shuntRaw(): number {
    const pg = (this.config >> 11) & 0b11;
    const fullScale = 4000 << pg;
    const raw = Math.round((this.currentA * this.shuntOhms) / INA219_SHUNT_LSB_V);
    return Math.max(-fullScale, Math.min(fullScale, raw));
  }

  private currentRaw(): number {
    return Math.trunc((this.shuntRaw() * this.calibration) / 4096);
  }

  private powerRaw(): number {
    const bus = Math.min(8191, Math.max(0, Math.round(this.busVoltageV / INA219_BUS_LSB_V)));
    return Math.trunc((Math.abs(this.currentRaw()) * bus) / 5000);
  }

  private overflow(): boolean {
    const current = this.currentRaw();
    return current > 32767 || current < -32768 || this.powerRaw() > 0xffff;
  }
}

const TMP102_DEFAULT_CONFIG = 0x60a0;

/**
 * TI TMP102: temperature 0x00 (12-bit two's complement in bits 15..4, 0.0625 °C; 13-bit with bit 0 set
 * in extended mode), configuration 0x01 (power-on 0x60A0; R1/R0 read-only 1, AL read-only), TLOW 0x02,
 * THIGH 0x03.
 */
export class FakeTmp102 extends Register16Chip {
  readonly model = 'tmp102';
  temperatureC: number;
  private config = TMP102_DEFAULT_CONFIG;
  private tLow = 0x4b00;
  private tHigh = 0x5000;

  constructor(opts: { temperatureC?: number } = {}) {
    super();
    this.temperatureC = opts.temperatureC ?? 25;
    this.reset();
  }

  set(temperatureC: number): void {
    this.temperatureC = temperatureC;
  }

  reset(): void {
    this.config = TMP102_DEFAULT_CONFIG;
    this.tLow = 0x4b00;
    this.tHigh = 0x5000;
  }

  protected value(register: number): number {
    switch (register) {
      case 0x00: {
        const counts = Math.round(this.temperatureC / 0.0625);
        if (this.config & 0x0010) {
          return ((Math.max(-4096, Math.min(4095, counts)) & 0x1fff) << 3) | 1;
        }
        return (Math.max(-2048, Math.min(2047, counts)) & 0x0fff) << 4;
      }
      case 0x01:
        return this.config;
      case 0x02:
        return this.tLow;
      case 0x03:
        return this.tHigh;
      default:
        return 0;
    }
  }

  protected store(register: number, word: number): void {
    if (register === 0x01) this.config = (word & ~0x6020) | 0x6000 | (this.config & 0x0020);
    else if (register === 0x02) this.tLow = word & 0xfff0;
    else if (register === 0x03) this.tHigh = word & 0xfff0;
  }
}
