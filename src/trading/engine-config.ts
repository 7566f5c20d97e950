import type { Config } from '../config/schema.js';
import type { EngineConfig, FlexLoad } from '../engine/types.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * The engine's parameters from the service config. The timings follow the slot length, so a short slot
 * (a demo, a test) gives a proportionally quick engine, and the cycle length, so readings a few cycles
 * old still count as fresh.
 */
export function engineConfigFrom(config: Config): EngineConfig {
  const slotMs = config.engine.slotMinutes * MINUTE_MS;
  const cycleMs = config.cycleMs;
  const flexLoads: FlexLoad[] = [];
  for (const d of config.devices) {
    if (d.load === undefined || !d.enabled) continue;
    flexLoads.push({
      id: d.id,
      powerW: d.load.powerW,
      minOnMs: d.load.minOnS * 1000,
      minOffMs: d.load.minOffS * 1000,
    });
  }
  const noExport = config.engine.noExport;
  return {
    homeId: config.home.id,
    slotMs,
    minOfferW: config.engine.minOfferW,
    reserveW: config.engine.reserveW,
    priceCentsPerKwh: config.engine.priceCentsPerKwh,
    maxBuyPriceCentsPerKwh: config.engine.maxBuyPriceCentsPerKwh,
    minTradeWh: config.engine.minTradeWh,
    smoothingTauMs: Math.min(MINUTE_MS, slotMs / 10),
    maxReadingAgeMs: Math.max(3 * cycleMs, 10_000),
    reviseMinIntervalMs: Math.min(MINUTE_MS, slotMs / 10),
    answerTimeoutMs: Math.min(30_000, slotMs / 20),
    resendBaseMs: Math.min(30_000, slotMs / 20),
    resendMaxMs: Math.min(15 * MINUTE_MS, slotMs),
    settleDelayMs: Math.max(2 * cycleMs, 5000),
    keepMs: 48 * HOUR_MS,
    flexLoads,
    noExport:
      noExport === undefined ? null : { device: noExport.device, inverterWMax: noExport.inverterWMax },
  };
}
