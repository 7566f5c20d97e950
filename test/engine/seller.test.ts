import { describe, expect, it } from 'vitest';
import { ownOffers, totals } from '../../src/engine/views.js';
import type { AcceptBody } from '../../src/protocol/trading.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';
import { Home, inbound, ofKind, SLOT_MS, sends, surplus, T0 } from './harness.js';

// With the defaults (15 min, reserve 200 W, minOfferW 300 W, minTradeWh 20): an offer opens at a surplus of
// 500 W (75 Wh) and is withdrawn below 350 W. τ = 1 ms makes the estimate follow each sample at once.
const S = T0 + SLOT_MS;
const fast = { smoothingTauMs: 1 };

function accept(over: Partial<AcceptBody> = {}): AcceptBody {
  return {
    acceptId: uuidv7(T0),
    seller: 'home-a',
    slot: S,
    version: 1,
    energyWh: 100,
    minWh: 20,
    maxPriceCentsPerKwh: 20,
    ...over,
  };
}

describe('seller: opening an offer', () => {
  it.each([
    { surplusW: 499, minTradeWh: 20, opens: false, energyWh: 0 },
    { surplusW: 500, minTradeWh: 20, opens: true, energyWh: 75 },
    { surplusW: 2200, minTradeWh: 20, opens: true, energyWh: 500 },
    { surplusW: 600, minTradeWh: 101, opens: false, energyWh: 0 },
    { surplusW: 604, minTradeWh: 101, opens: true, energyWh: 101 },
    { surplusW: -1000, minTradeWh: 20, opens: false, energyWh: 0 },
  ])(
    'surplus $surplusW W, minTradeWh $minTradeWh → opens $opens',
    ({ surplusW, minTradeWh, opens, energyWh }) => {
      const h = new Home({ ...fast, minTradeWh });
      const cmds = h.run(T0, T0 + 10_000, surplus(surplusW));
      const offers = sends(cmds, 'offer');
      expect(offers).toHaveLength(opens ? 1 : 0);
      if (!opens) return expect(ownOffers(h.state)).toEqual([]);
      expect(offers[0]).toMatchObject({
        to: { own: 'offer' },
        class: 'offer',
        exp: S,
        body: {
          slot: S,
          slotMs: SLOT_MS,
          version: 1,
          energyWh,
          availableWh: energyWh,
          priceCentsPerKwh: 12,
          reserveWh: 50,
        },
      });
      expect(ownOffers(h.state)).toEqual([
        expect.objectContaining({
          slot: S,
          version: 1,
          energyWh,
          availableWh: energyWh,
          status: 'open',
          exp: S,
        }),
      ]);
      expect(totals(h.state).offers).toBe(1);
    },
  );

  it('uses the smoothed surplus: a short spike does not open an offer', () => {
    const h = new Home({ smoothingTauMs: 60_000 });
    h.run(T0, T0 + 60_000, surplus(0));
    // 5 s at 3000 W moves a 60 s EWMA to about 3000·(1 − e^(−5/60)) ≈ 240 W.
    const cmds = h.run(T0 + 60_000, T0 + 65_000, surplus(3000), 1000);
    expect(sends(cmds, 'offer')).toHaveLength(0);
    const later = h.run(T0 + 65_000, T0 + 200_000, surplus(3000), 1000);
    expect(sends(later, 'offer').length).toBeGreaterThan(0);
  });
});

describe('seller: hysteresis', () => {
  it.each([
    {
      name: 'between thresholds, no offer: none opens',
      start: 450,
      later: 450,
      open: false,
      withdrawn: false,
    },
    {
      name: 'between thresholds with an offer: it stays',
      start: 600,
      later: 360,
      open: true,
      withdrawn: false,
    },
    {
      name: 'just above the withdraw threshold: it stays',
      start: 600,
      later: 350,
      open: true,
      withdrawn: false,
    },
    { name: 'below half the minimum: withdrawn', start: 600, later: 349, open: false, withdrawn: true },
    { name: 'import: withdrawn', start: 600, later: -500, open: false, withdrawn: true },
  ])('$name', ({ start, later, open, withdrawn }) => {
    const h = new Home(fast);
    h.run(T0, T0 + 5000, surplus(start));
    const cmds = h.run(T0 + 5000, T0 + 10_000, surplus(later));
    const offer = ownOffers(h.state)[0];
    expect(offer?.status === 'open').toBe(open);
    expect(offer?.status === 'withdrawn').toBe(withdrawn);
    expect(ofKind(cmds, 'clear-offer')).toEqual(withdrawn ? [{ kind: 'clear-offer', exp: S }] : []);
  });

  it('re-opens a withdrawn offer with the next version', () => {
    const h = new Home(fast);
    h.run(T0, T0 + 2000, surplus(600));
    h.run(T0 + 2000, T0 + 4000, surplus(0));
    const cmds = h.run(T0 + 4000, T0 + 6000, surplus(1000));
    expect(sends(cmds, 'offer').map((m) => m.body.version)).toEqual([2]);
    expect(ownOffers(h.state)[0]).toMatchObject({ version: 2, status: 'open', energyWh: 200 });
  });
});

describe('seller: revisions', () => {
  // Opened at 2200 W → 500 Wh at T0; reviseMinIntervalMs 60 s.
  it.each([
    { name: '+30 % after the interval', w: 2800, at: 60_000, version: 2, energyWh: 650 },
    { name: '+30 % before the interval', w: 2800, at: 59_000, version: 1, energyWh: 500 },
    { name: '+15 %', w: 2500, at: 120_000, version: 1, energyWh: 500 },
    { name: '−20 %', w: 1800, at: 60_000, version: 2, energyWh: 400 },
    { name: '−19 %', w: 1820, at: 60_000, version: 1, energyWh: 500 },
  ])('$name', ({ w, at, version, energyWh }) => {
    const h = new Home(fast);
    h.tick(T0, surplus(2200));
    const cmds = h.run(T0 + 1000, T0 + at + 1, surplus(w), 1000);
    expect(ownOffers(h.state)[0]).toMatchObject({ version, energyWh, availableWh: energyWh });
    expect(sends(cmds, 'offer')).toHaveLength(version - 1);
  });

  it('never revises below what is sold, and keeps the version on fills', () => {
    const h = new Home(fast);
    h.tick(T0, surplus(2200));
    const a = accept({ energyWh: 300 });
    const fill = h.receive(T0 + 1000, inbound('accept', 'home-b', a));
    // 200 Wh are still left: the sale does not republish the offer to the zone.
    expect(sends(fill, 'offer')).toEqual([]);
    // The surplus halves: E = 225 ≥ 20 % off, but 300 are sold: energy = 300, available 0.
    h.run(T0 + 2000, T0 + 62_000, surplus(1100));
    expect(ownOffers(h.state)[0]).toMatchObject({
      version: 2,
      energyWh: 300,
      availableWh: 0,
      status: 'filled',
    });
    expect(ownOffers(h.state)[0]?.maxEnergyWh).toBe(500);
  });

  it('a filled offer opens again when the surplus grows by 20 %', () => {
    const h = new Home(fast);
    h.tick(T0, surplus(2200));
    h.receive(T0 + 1000, inbound('accept', 'home-b', accept({ energyWh: 500 })));
    expect(ownOffers(h.state)[0]).toMatchObject({ status: 'filled', availableWh: 0, version: 1 });
    h.run(T0 + 2000, T0 + 62_000, surplus(3000));
    expect(ownOffers(h.state)[0]).toMatchObject({
      status: 'open',
      version: 2,
      energyWh: 700,
      availableWh: 200,
    });
  });
});

describe('seller: stale and faulted readings', () => {
  it.each(['stale', 'fault'] as const)('%s readings never open an offer', (quality) => {
    const h = new Home(fast);
    const cmds = h.run(T0, T0 + 30_000, { gridPowerW: { value: -5000, quality } });
    expect(sends(cmds)).toEqual([]);
    expect(ownOffers(h.state)).toEqual([]);
  });

  it.each(['stale', 'fault'] as const)('%s readings never grow an offer', (quality) => {
    const h = new Home(fast);
    h.tick(T0, surplus(2200));
    const cmds = h.run(T0 + 1000, T0 + 9000, { gridPowerW: { value: -9000, quality } });
    expect(sends(cmds, 'offer')).toEqual([]);
    expect(ownOffers(h.state)[0]).toMatchObject({ version: 1, energyWh: 500, status: 'open' });
  });

  it.each(['stale', 'fault', 'missing'] as const)(
    '%s readings for maxReadingAgeMs withdraw an unsold offer',
    (q) => {
      const h = new Home(fast);
      h.tick(T0, surplus(2200));
      const values = q === 'missing' ? {} : { gridPowerW: { value: -2200, quality: q } };
      const before = h.run(T0 + 1000, T0 + 10_000, values);
      expect(ofKind(before, 'clear-offer')).toEqual([]);
      const at = h.tick(T0 + 10_000, values);
      expect(ofKind(at, 'clear-offer')).toEqual([{ kind: 'clear-offer', exp: S }]);
      expect(ownOffers(h.state)[0]).toMatchObject({ status: 'withdrawn', availableWh: 0, version: 1 });
    },
  );

  it('an offer with sales is closed at what is sold instead (filled, next version)', () => {
    const h = new Home(fast);
    h.tick(T0, surplus(2200));
    h.receive(T0 + 1000, inbound('accept', 'home-b', accept({ energyWh: 120 })));
    const cmds = h.run(T0 + 2000, T0 + 12_000, { gridPowerW: { value: null, quality: 'fault' } });
    expect(ofKind(cmds, 'clear-offer')).toEqual([]);
    expect(sends(cmds, 'offer').map((m) => m.body)).toEqual([
      expect.objectContaining({ version: 2, energyWh: 120, availableWh: 0 }),
    ]);
    expect(ownOffers(h.state)[0]).toMatchObject({ status: 'filled', energyWh: 120, availableWh: 0 });
  });
});

describe('seller: gate closure and slots', () => {
  it('the offer expires at its slot start and the next slot gets its own offer', () => {
    const h = new Home(fast);
    h.run(T0, S, surplus(2200), 10_000);
    expect(ownOffers(h.state)).toHaveLength(1);
    const cmds = h.tick(S, surplus(2200));
    const [next, prev] = ownOffers(h.state);
    expect(prev).toMatchObject({ slot: S, status: 'expired' });
    expect(next).toMatchObject({ slot: S + SLOT_MS, status: 'open', version: 1 });
    expect(sends(cmds, 'offer').map((m) => m.exp)).toEqual([S + SLOT_MS]);
    expect(ofKind(cmds, 'clear-offer')).toEqual([]);
  });

  it('filled and withdrawn offers keep their status past the gate', () => {
    const h = new Home(fast);
    h.tick(T0, surplus(2200));
    h.receive(T0 + 1000, inbound('accept', 'home-b', accept({ energyWh: 500 })));
    h.tick(S, surplus(0));
    expect(ownOffers(h.state).find((o) => o.slot === S)?.status).toBe('filled');
  });

  it('after fills down to zero the offer is filled and re-published at the same version, not before', () => {
    const h = new Home(fast);
    h.tick(T0, surplus(2200));
    const first = h.receive(T0 + 1000, inbound('accept', 'home-b', accept({ energyWh: 200 })));
    const second = h.receive(
      T0 + 2000,
      inbound('accept', 'home-c', accept({ energyWh: 300, seller: 'home-a' })),
    );
    expect(sends(first, 'offer')).toEqual([]);
    expect(sends(second, 'offer').map((m) => [m.body.version, m.body.availableWh])).toEqual([[1, 0]]);
    expect(ownOffers(h.state)[0]).toMatchObject({ status: 'filled', availableWh: 0, energyWh: 500 });
  });
});

describe('seller: never sells and buys the same slot', () => {
  it('does not offer for a slot it asked to buy in', () => {
    const h = new Home({ ...fast, homeId: 'home-a' });
    h.tick(T0, { gridPowerW: 2000 });
    const offer = {
      slot: S,
      slotMs: SLOT_MS,
      version: 1,
      energyWh: 900,
      availableWh: 900,
      priceCentsPerKwh: 10,
      reserveWh: 0,
    };
    const asked = h.receive(T0 + 500, inbound('offer', 'home-s', offer, { exp: S }));
    expect(sends(asked)).toEqual([]);
    const acc = h.tick(T0 + 1000, { gridPowerW: 2000 });
    expect(sends(acc, 'accept')).toHaveLength(1);
    const cmds = h.run(T0 + 2000, T0 + 20_000, surplus(3000));
    expect(sends(cmds, 'offer')).toEqual([]);
    expect(ownOffers(h.state)).toEqual([]);
    // The next slot is free again (the request for S expired at the gate).
    const next = h.run(S, S + 2000, surplus(3000));
    expect(sends(next, 'offer').map((m) => m.body.slot)).toEqual([S + SLOT_MS]);
  });

  it('does not buy for a slot it offers in, even with flexible loads to feed', () => {
    const h = new Home({ ...fast, flexLoads: [{ id: 'heater', powerW: 2000, minOnMs: 0, minOffMs: 0 }] });
    h.tick(T0, surplus(2200));
    const offer = {
      slot: S,
      slotMs: SLOT_MS,
      version: 1,
      energyWh: 900,
      availableWh: 900,
      priceCentsPerKwh: 1,
      reserveWh: 0,
    };
    h.receive(T0 + 500, inbound('offer', 'home-s', offer, { exp: S }));
    const cmds = h.run(T0 + 1000, T0 + 20_000, surplus(2200));
    expect(sends(cmds, 'accept')).toEqual([]);
  });
});
