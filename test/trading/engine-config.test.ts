import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { engineConfigFrom } from '../../src/trading/engine-config.js';

const base = {
  home: { id: 'home-42', zone: 'lyon-7' },
  devices: [
    { id: 'water-heater', profile: 'relay', gpio: { line: 17 }, load: { powerW: 2000, minOnS: 600 } },
    { id: 'pump', profile: 'relay', gpio: { line: 18 }, load: { powerW: 750 }, enabled: false },
    { id: 'fan', profile: 'relay', gpio: { line: 19 } },
    { id: 'ev', profile: 'relay', gpio: { line: 20 }, load: { powerW: 3500, minOnS: 0, minOffS: 60 } },
  ],
};

describe('engineConfigFrom', () => {
  it('derives the timings from 15-minute slots and a 1 s cycle', () => {
    const c = engineConfigFrom(configSchema.parse(base));
    expect(c).toEqual({
      homeId: 'home-42',
      slotMs: 900_000,
      minOfferW: 300,
      reserveW: 200,
      priceCentsPerKwh: 12,
      maxBuyPriceCentsPerKwh: 20,
      minTradeWh: 20,
      smoothingTauMs: 60_000,
      maxReadingAgeMs: 10_000,
      reviseMinIntervalMs: 60_000,
      answerTimeoutMs: 30_000,
      resendBaseMs: 30_000,
      resendMaxMs: 900_000,
      settleDelayMs: 5000,
      keepMs: 48 * 3_600_000,
      // Enabled relays with a load, in config order.
      flexLoads: [
        { id: 'water-heater', powerW: 2000, minOnMs: 600_000, minOffMs: 300_000 },
        { id: 'ev', powerW: 3500, minOnMs: 0, minOffMs: 60_000 },
      ],
      noExport: null,
    });
  });

  it('scales with short slots and slow cycles, and carries noExport', () => {
    const c = engineConfigFrom(
      configSchema.parse({
        ...base,
        devices: [],
        cycleMs: 5000,
        engine: {
          slotMinutes: 2,
          minOfferW: 100,
          reserveW: 50,
          priceCentsPerKwh: 9.5,
          maxBuyPriceCentsPerKwh: 15,
          minTradeWh: 5,
          noExport: { device: 'inverter', inverterWMax: 5000 },
        },
      }),
    );
    expect(c).toMatchObject({
      slotMs: 120_000,
      minOfferW: 100,
      reserveW: 50,
      priceCentsPerKwh: 9.5,
      maxBuyPriceCentsPerKwh: 15,
      minTradeWh: 5,
      smoothingTauMs: 12_000,
      maxReadingAgeMs: 15_000,
      reviseMinIntervalMs: 12_000,
      answerTimeoutMs: 6000,
      resendBaseMs: 6000,
      resendMaxMs: 120_000,
      settleDelayMs: 10_000,
      flexLoads: [],
      noExport: { device: 'inverter', inverterWMax: 5000 },
    });
  });
});
