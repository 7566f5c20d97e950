import type { QuantityName, QuantityValues } from '../../core/quantities.js';
import { planReads, type ReadBlock, type RegisterImage, readBlocks } from './plan.js';
import type { ModbusProfile, RegisterPoint } from './profile-schema.js';
import type { UnitIO } from './unit-io.js';
import { pointValue } from './values.js';

/** Reads, then decodes; what a device driver needs from a profile family. */
export interface ProfileReader {
  read(io: UnitIO): Promise<QuantityValues>;
  /** Identity strings read so far (`info.*` targets). */
  info(): Record<string, string>;
  /** Forget cached knowledge of the device (after it stopped answering). */
  reset(): void;
}

function pointName(p: RegisterPoint): string {
  return 'quantity' in p.target ? p.target.quantity : `info.${p.target.info}`;
}

function decodePoints(
  points: readonly RegisterPoint[],
  image: RegisterImage,
  sunspecSentinels: boolean,
): Map<RegisterPoint, number | string> {
  const out = new Map<RegisterPoint, number | string>();
  for (const p of points) {
    const what = `${pointName(p)} at ${p.fn} ${p.address}`;
    const v = pointValue(p, image.get(p.fn, p.address, p.length), { sunspecSentinels, what });
    if (v !== null) out.set(p, v);
  }
  return out;
}

const INFO_ATTEMPTS = 3;

/** `kind: modbus`: fixed register addresses, planned once. Identity fields are read on first contact. */
export class RegisterMapReader implements ProfileReader {
  private readonly plan: ReadBlock[];
  private readonly infoPlan: ReadBlock[];
  private readonly infoValues: Record<string, string> = {};
  private infoAttempts = 0;

  constructor(private readonly profile: ModbusProfile) {
    const opts = { maxGap: profile.maxGap, maxRegisters: profile.maxRegisters };
    const spans = (points: RegisterPoint[]) =>
      points.map((p) => ({ fn: p.fn, address: p.address, count: p.length }));
    this.plan = planReads(spans(profile.points), opts);
    this.infoPlan = planReads(spans(profile.info), opts);
  }

  /** The requests one read makes. */
  blocks(): readonly ReadBlock[] {
    return this.plan;
  }

  async read(io: UnitIO): Promise<QuantityValues> {
    const image = await readBlocks(this.plan, io.read);
    const values: QuantityValues = {};
    for (const [p, v] of decodePoints(this.profile.points, image, this.profile.sunspecSentinels)) {
      values[(p.target as { quantity: QuantityName }).quantity] = v as number;
    }
    if (this.infoAttempts < INFO_ATTEMPTS && this.infoPlan.length > 0) await this.readInfo(io);
    return values;
  }

  info(): Record<string, string> {
    return { ...this.infoValues };
  }

  reset(): void {
    // Identity may belong to a replaced device now: read it again on the next contact.
    this.infoAttempts = 0;
  }

  /** Identity is a nice-to-have: a device that refuses it still gives readings. */
  private async readInfo(io: UnitIO): Promise<void> {
    this.infoAttempts++;
    try {
      const image = await readBlocks(this.infoPlan, io.read);
      for (const [p, v] of decodePoints(this.profile.info, image, this.profile.sunspecSentinels)) {
        this.infoValues[(p.target as { info: string }).info] = String(v);
      }
      this.infoAttempts = INFO_ATTEMPTS;
    } catch {
      // Tried again on the next reads, up to INFO_ATTEMPTS times.
    }
  }
}
