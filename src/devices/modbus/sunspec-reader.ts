import { errorText } from '../../core/errors.js';
import type { QuantityName, QuantityValues } from '../../core/quantities.js';
import type { Logger } from '../../log/logger.js';
import { decodeRegisters, encodeRegisters } from './codec.js';
import { ModbusError } from './errors.js';
import { planReads, type ReadBlock, readBlocks } from './plan.js';
import type { SunspecPoint, SunspecProfile } from './profile-schema.js';
import type { ProfileReader } from './register-map-reader.js';
import { discoverSunspec, findModel, type SunspecMap, type SunspecModel } from './sunspec.js';
import type { UnitIO } from './unit-io.js';
import { pointValue } from './values.js';

/** A profile point placed on this device's model map. */
interface PlacedPoint {
  point: SunspecPoint;
  model: SunspecModel;
}

interface Layout {
  map: SunspecMap;
  points: PlacedPoint[];
  plan: ReadBlock[];
  /** Models whose ID and L are re-read every cycle to notice a changed map. */
  models: SunspecModel[];
}

function name(p: SunspecPoint): string {
  return 'quantity' in p.target ? p.target.quantity : `info.${p.target.info}`;
}

/** Registers from the model's ID register to the end of the point or of its scale factor. */
function pointEnd(p: SunspecPoint): number {
  return Math.max(p.offset + p.length, (p.sf ?? 0) + 1);
}

/**
 * `kind: sunspec`: discovers the model map on first contact and caches it. Every read also re-reads
 * the ID and L of the models it uses; if they changed (firmware update, device swapped) the read fails
 * and the next one discovers again.
 */
export class SunspecReader implements ProfileReader {
  private layout: Layout | null = null;
  private infoValues: Record<string, string> = {};

  constructor(
    private readonly profile: SunspecProfile,
    private readonly log: Logger,
  ) {}

  map(): SunspecMap | null {
    return this.layout?.map ?? null;
  }

  info(): Record<string, string> {
    return { ...this.infoValues };
  }

  reset(): void {
    this.layout = null;
  }

  async read(io: UnitIO): Promise<QuantityValues> {
    const layout = this.layout ?? (await this.discover(io));
    const image = await readBlocks(layout.plan, io.read);
    for (const m of layout.models) {
      const [id, length] = image.get('holding', m.address, 2) as [number, number];
      if (id !== m.id || length !== m.length) {
        this.layout = null;
        throw new ModbusError(
          'value',
          `SunSpec map changed: expected model ${m.id} (L=${m.length}) at ${m.address}, found ${id} (L=${length}); rediscovering`,
        );
      }
    }
    const values: QuantityValues = {};
    for (const { point, model } of layout.points) {
      const v = pointValue(point, image.get('holding', model.address + point.offset, point.length), {
        sunspecSentinels: true,
        what: `${name(point)} (model ${model.id} offset ${point.offset})`,
        ...(point.sf === undefined
          ? {}
          : { sfRegister: image.get('holding', model.address + point.sf, 1)[0] }),
      });
      if (typeof v === 'number') values[(point.target as { quantity: QuantityName }).quantity] = v;
    }
    return values;
  }

  /** Writes the export limit (model 123 WMaxLimPct + WMaxLim_Ena); null lifts it. */
  async writeExportLimit(io: UnitIO, pct: number | null): Promise<void> {
    const ctl = this.profile.exportLimit;
    if (ctl === undefined) throw new Error(`profile ${this.profile.id} maps no export limit control`);
    if (pct !== null && !(pct >= 0 && pct <= 100))
      throw new RangeError(`export limit must be 0..100 %, got ${pct}`);
    const layout = this.layout ?? (await this.discover(io));
    const model = findModel(layout.map, [ctl.model]);
    if (model === undefined) {
      throw new ModbusError('value', `device has no SunSpec model ${ctl.model} (immediate controls)`);
    }
    if (pct === null) {
      await io.write(model.address + ctl.enable.offset, [0]);
      return;
    }
    let sf = 0;
    if (ctl.pct.sf !== undefined) {
      const regs = await io.read('holding', model.address + ctl.pct.sf, 1);
      // An unimplemented scale factor (0x8000) means the value is unscaled.
      sf = (decodeRegisters(regs, 's16', { sunspecSentinels: true }) as number | null) ?? 0;
    }
    const raw = Math.round(sf < 0 ? pct * 10 ** -sf : pct / 10 ** sf);
    // The limit value first, then the enable flag, so the inverter never applies a stale limit.
    await io.write(model.address + ctl.pct.offset, encodeRegisters(raw, 'u16'));
    await io.write(model.address + ctl.enable.offset, [1]);
  }

  private async discover(io: UnitIO): Promise<Layout> {
    const map = await discoverSunspec(
      (address, count) => io.read('holding', address, count),
      this.profile.bases,
    );
    const place = (points: SunspecPoint[]) => {
      const placed: PlacedPoint[] = [];
      for (const point of points) {
        const model = findModel(map, point.models);
        if (model === undefined) continue;
        if (pointEnd(point) > model.length + 2) {
          this.log.warn(
            { profile: this.profile.id, point: name(point), model: model.id, length: model.length },
            'SunSpec model too short for this point; point skipped',
          );
          continue;
        }
        placed.push({ point, model });
      }
      return placed;
    };
    const points = place(this.profile.points);
    if (points.length === 0) {
      const wanted = [...new Set(this.profile.points.flatMap((p) => p.models))].join(', ');
      throw new ModbusError(
        'value',
        `SunSpec device at ${map.base} has models ${map.models.map((m) => m.id).join(', ')} but none of ${wanted}`,
      );
    }
    // Each span starts at the model's ID register so the ID and L come back with the values.
    const spans = (placed: PlacedPoint[]) =>
      placed.map(({ point, model }) => ({
        fn: 'holding' as const,
        address: model.address,
        count: pointEnd(point),
      }));
    const opts = { maxGap: this.profile.maxGap, maxRegisters: this.profile.maxRegisters };
    const layout: Layout = {
      map,
      points,
      plan: planReads(spans(points), opts),
      models: [...new Set(points.map((p) => p.model))],
    };
    try {
      this.infoValues = await this.readInfo(io, place(this.profile.info), opts);
    } catch (err) {
      // Identity is a nice-to-have: readings still flow without it.
      this.log.warn({ profile: this.profile.id, err: errorText(err) }, 'SunSpec identity not readable');
      this.infoValues = {};
    }
    this.layout = layout;
    this.log.info(
      {
        profile: this.profile.id,
        base: map.base,
        models: map.models.map((m) => m.id),
        info: this.infoValues,
      },
      'SunSpec map discovered',
    );
    return layout;
  }

  private async readInfo(
    io: UnitIO,
    info: PlacedPoint[],
    opts: { maxGap: number; maxRegisters: number },
  ): Promise<Record<string, string>> {
    const spans = info.map(({ point, model }) => ({
      fn: 'holding' as const,
      address: model.address + point.offset,
      count: point.length,
    }));
    const image = await readBlocks(planReads(spans, opts), io.read);
    const out: Record<string, string> = {};
    for (const { point, model } of info) {
      const v = pointValue(point, image.get('holding', model.address + point.offset, point.length), {
        sunspecSentinels: true,
        what: name(point),
      });
      if (v !== null && v !== '') out[(point.target as { info: string }).info] = String(v);
    }
    return out;
  }
}
