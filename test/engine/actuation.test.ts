import { describe, expect, it } from 'vitest';
import type { Command, EngineConfig } from '../../src/engine/types.js';
import { summary } from '../../src/engine/views.js';
import type { AcceptBody, TradeBody } from '../../src/protocol/trading.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';
import { Home, inbound, ofKind, SLOT_MS, surplus, T0 } from './harness.js';

// Purchases are made for S (the next slot) and run the loads while S is the current slot.
const S = T0 + SLOT_MS;
const loads = [
  { id: 'heater', powerW: 1000, minOnMs: 0, minOffMs: 0 },
  { id: 'pump', powerW: 500, minOnMs: 0, minOffMs: 0 },
  { id: 'charger', powerW: 2000, minOnMs: 0, minOffMs: 0 },
];

function trade(energyWh: number, slot = S, seller = 's1'): TradeBody {
  return {
    tradeId: uuidv7(T0),
    acceptId: uuidv7(T0),
    seller,
    buyer: 'home-b',
    slot,
    slotMs: SLOT_MS,
    version: 1,
    energyWh,
    priceCentsPerKwh: 12,
    confirmedAt: T0 + 1000,
  };
}

function home(over: Partial<EngineConfig> = {}): Home {
  return new Home({ homeId: 'home-b', smoothingTauMs: 1, flexLoads: loads, ...over });
}

const relays = (cmds: Command[]) => ofKind(cmds, 'relay').map((c) => `${c.id}:${c.on ? 'on' : 'off'}`);

describe('actuation: flexible loads run on bought power', () => {
  it.each([
    { boughtWh: [], on: [] },
    { boughtWh: [250], on: ['heater'] }, // 1000 W
    { boughtWh: [374], on: ['heater'] }, // 1496 W: the pump does not fit
    { boughtWh: [375], on: ['heater', 'pump'] }, // 1500 W
    { boughtWh: [200, 175], on: ['heater', 'pump'] }, // two trades add up
    { boughtWh: [200], on: [] }, // 800 W: the first load does not fit, so none after it runs either
    { boughtWh: [875], on: ['heater', 'pump', 'charger'] },
  ])('bought $boughtWh Wh → $on', ({ boughtWh, on }) => {
    const h = home();
    boughtWh.forEach((wh) => {
      h.receive(T0 + 1000, inbound('trade', 's1', trade(wh)));
    });
    const before = h.run(T0, S, {}, 10_000);
    expect(relays(before)).toEqual([]);
    const during = h.run(S, S + 10_000, {});
    expect(relays(during)).toEqual(on.map((id) => `${id}:on`));
    expect(summary(h.state).loadsOn).toEqual(on);
    const after = h.run(S + SLOT_MS, S + SLOT_MS + 10_000, {});
    expect(relays(after)).toEqual(on.map((id) => `${id}:off`));
    expect(summary(h.state).loadsOn).toEqual([]);
  });

  it('a relay command is emitted only when the commanded state changes', () => {
    const h = home();
    h.receive(T0 + 1000, inbound('trade', 's1', trade(250)));
    const cmds = h.run(S, S + SLOT_MS, {}, 1000);
    expect(relays(cmds)).toEqual(['heater:on']);
  });

  it.each([
    {
      name: 'min on time holds a load on after its slot',
      minOnMs: 20 * 60_000,
      minOffMs: 0,
      offAt: S + 20 * 60_000,
    },
    { name: 'without a min on time it goes off with its slot', minOnMs: 0, minOffMs: 0, offAt: S + SLOT_MS },
  ])('$name', ({ minOnMs, minOffMs, offAt }) => {
    const h = home({ flexLoads: [{ id: 'heater', powerW: 1000, minOnMs, minOffMs }] });
    h.receive(T0 + 1000, inbound('trade', 's1', trade(250)));
    let seenOff: number | null = null;
    for (let t = S; t < S + 30 * 60_000; t += 1000) {
      if (relays(h.tick(t, {})).includes('heater:off')) seenOff = t;
    }
    expect(seenOff).toBe(offAt);
  });

  it('min off time delays switching on again', () => {
    const h = home({ flexLoads: [{ id: 'heater', powerW: 1000, minOnMs: 0, minOffMs: 20 * 60_000 }] });
    const slot2 = S + SLOT_MS;
    const slot3 = slot2 + SLOT_MS;
    h.receive(T0 + 1000, inbound('trade', 's1', trade(250, S)));
    h.receive(T0 + 2000, inbound('trade', 's1', trade(250, slot3)));
    const onAt: number[] = [];
    for (let t = S; t < slot3 + SLOT_MS; t += 1000) {
      if (relays(h.tick(t, {})).includes('heater:on')) onAt.push(t);
    }
    // Off at slot2 (its slot ended); on again only 20 min later, although slot3 starts after 15.
    expect(onAt).toEqual([S, slot2 + 20 * 60_000]);
  });

  it('start: loads are off and may switch on at once', () => {
    const h = home({ flexLoads: [{ id: 'heater', powerW: 1000, minOnMs: 0, minOffMs: 30 * 60_000 }] });
    h.receive(T0 + 1000, inbound('trade', 's1', trade(250, S)));
    h.run(S, S + 5000, {});
    expect(summary(h.state).loadsOn).toEqual(['heater']);
    // A restart: the stored state is restored, the relays are physically off.
    const restored = h.engine.restore(JSON.parse(JSON.stringify(h.state.durable)), S + 6000);
    h.state = restored;
    expect(h.step({ kind: 'start' }, S + 6000)).toEqual([]);
    expect(summary(h.state).loadsOn).toEqual([]);
    expect(relays(h.tick(S + 7000, {}))).toEqual(['heater:on']);
  });

  it('start clears what the engine believed was on', () => {
    const h = home();
    h.receive(T0 + 1000, inbound('trade', 's1', trade(250, S)));
    h.run(S, S + 5000, {});
    h.step({ kind: 'start' }, S + 6000);
    expect(relays(h.tick(S + 7000, {}))).toEqual(['heater:on']);
  });
});

describe('noExport: the inverter exports no more than was sold, plus a probe margin', () => {
  const noExport = { device: 'inverter', inverterWMax: 5000 };
  // minOfferW 300 + reserveW 200: the margin that lets the meter still see a surplus worth offering.
  const MARGIN_W = 500;

  it.each([
    { name: 'pv below consumption: no limit', pv: 800, load: 1000, soldWh: 0, limited: false },
    { name: 'pv within the margin: no limit', pv: 1400, load: 1000, soldWh: 0, limited: false },
    {
      name: 'nothing sold: consumption + margin + open offer',
      pv: 4000,
      load: 1000,
      soldWh: 0,
      limited: true,
    },
    { name: 'sold 250 Wh (1000 W) in the slot', pv: 4000, load: 1000, soldWh: 250, limited: true },
    { name: 'no consumption', pv: 4000, load: 0, soldWh: 0, limited: true },
    { name: 'limit above the rating', pv: 7000, load: 6000, soldWh: 0, limited: true },
  ])('$name', ({ pv, load, soldWh, limited }) => {
    const h = new Home({ smoothingTauMs: 1, noExport });
    if (soldWh > 0) {
      h.tick(T0, surplus(4000));
      const a: AcceptBody = {
        acceptId: uuidv7(T0),
        seller: 'home-a',
        slot: S,
        version: 1,
        energyWh: soldWh,
        minWh: 1,
        maxPriceCentsPerKwh: 20,
      };
      h.receive(T0 + 1000, inbound('accept', 'home-b', a));
    }
    const at = S + 1000;
    const cmds = h.tick(at, { pvPowerW: pv, loadPowerW: load, gridPowerW: load - pv });
    const soldW = (soldWh * 3_600_000) / SLOT_MS;
    const limitW = load + soldW + MARGIN_W;
    const pct = limited ? Math.min(100, Math.ceil((limitW / 5000) * 100)) : null;
    expect(ofKind(cmds, 'export-limit')).toEqual([{ kind: 'export-limit', device: 'inverter', pct }]);
    expect(summary(h.state).exportLimitPct).toBe(pct);
    if (limited && pct !== null && pct < 100) expect((pct / 100) * 5000).toBeLessThan(pv);
  });

  it('emits only on a change, lifts the limit only when output falls clearly below it, and needs good values', () => {
    const h = new Home({ noExport, minOfferW: 2000 });
    const values = (pv: number) => ({ pvPowerW: pv, loadPowerW: 1000 });
    const seen = [
      // 1000 + 2000 + 200 = 3200 W → 64 %; an inverter at its limit (3200 W) keeps it.
      ...h.tick(T0, values(4000)),
      ...h.tick(T0 + 1000, values(3200)),
      ...h.tick(T0 + 2000, { pvPowerW: { value: 100, quality: 'stale' }, loadPowerW: 1000 }),
      ...h.tick(T0 + 3000, { loadPowerW: 1000 }),
      // 2900 W ≥ 90 % of 3200 W: still limited; 2800 W is below: lifted.
      ...h.tick(T0 + 4000, values(2900)),
      ...h.tick(T0 + 5000, values(2800)),
      ...h.tick(T0 + 6000, values(2000)),
      ...h.tick(T0 + 7000, values(4000)),
    ];
    expect(ofKind(seen, 'export-limit').map((c) => c.pct)).toEqual([64, null, 64]);
  });

  it('without noExport configured nothing is limited', () => {
    const h = new Home();
    expect(ofKind(h.tick(T0, { pvPowerW: 4000, loadPowerW: 0 }), 'export-limit')).toEqual([]);
  });
});
