import { describe, expect, it } from 'vitest';
import type { DealView, OutgoingMessage } from '../../src/engine/types.js';
import { deals, ownOffers, totals } from '../../src/engine/views.js';
import { Home, SLOT_MS, T0, type Values, Wire } from './harness.js';

/**
 * A seller and two buyers wired directly (commands → events, no store, no broker) across a few slots: the
 * two sides of every trade agree, nothing is oversold, and each trade settles as the smaller allocation.
 */

/** Grid power over time with meter counters that integrate it (1 s steps). */
function household(power: (t: number) => number) {
  let importWh = 1000;
  let exportWh = 1000;
  let last = T0;
  return (t: number): Values => {
    const w = power(t);
    const wh = (w * (t - last)) / 3_600_000;
    if (wh > 0) importWh += wh;
    else exportWh -= wh;
    last = t;
    return { gridPowerW: w, gridImportWh: importWh, gridExportWh: exportWh };
  };
}

function run(drop: (from: string, to: string, m: OutgoingMessage) => boolean) {
  const seller = new Home({ homeId: 'seller-1' });
  const b1 = new Home({ homeId: 'buyer-1' });
  const b2 = new Home({ homeId: 'buyer-2', maxBuyPriceCentsPerKwh: 15 });
  const wire = new Wire().add(seller, b1, b2);
  wire.drop = drop;
  // The seller exports less in the last third of each slot than it offered: allocations fall short.
  const sv = household((t) => ((t - T0) % SLOT_MS < 600_000 ? -2200 : -700));
  const v1 = household(() => 800);
  const v2 = household((t) => (t - T0 < SLOT_MS ? 1600 : 1200));
  const end = T0 + 4 * SLOT_MS;
  for (let t = T0; t < end; t += 1000) {
    wire.tick('seller-1', t, sv(t));
    wire.tick('buyer-1', t, v1(t));
    wire.tick('buyer-2', t, v2(t));
  }
  return { seller, b1, b2, wire, end };
}

function check({ seller, b1, b2, end }: ReturnType<typeof run>) {
  const sold = deals(seller.state).filter((d) => d.role === 'seller');
  const bought = new Map<string, { home: string; deal: DealView }>();
  for (const [home, h] of [
    ['buyer-1', b1],
    ['buyer-2', b2],
  ] as const) {
    for (const d of deals(h.state)) if (d.tradeId) bought.set(d.tradeId, { home, deal: d });
  }
  expect(sold.length).toBeGreaterThanOrEqual(4);
  expect(new Set(sold.map((d) => d.tradeId))).toEqual(new Set(bought.keys()));
  for (const s of sold) {
    const b = bought.get(s.tradeId!)!;
    expect(b.home).toBe(s.counterparty);
    expect([b.deal.slot, b.deal.energyWh, b.deal.priceCentsPerKwh, b.deal.acceptId]).toEqual([
      s.slot,
      s.energyWh,
      s.priceCentsPerKwh,
      s.acceptId,
    ]);
    expect(b.deal.counterparty).toBe('seller-1');
  }
  // Never oversold, and the totals count each trade once on each side.
  for (const o of ownOffers(seller.state)) {
    const soldWh = sold.filter((d) => d.slot === o.slot).reduce((a, d) => a + d.energyWh, 0);
    expect(soldWh).toBeLessThanOrEqual(o.maxEnergyWh);
  }
  const soldWh = sold.reduce((a, d) => a + d.energyWh, 0);
  expect(totals(seller.state).energyWh.seller).toBe(soldWh);
  expect(totals(b1.state).energyWh.buyer + totals(b2.state).energyWh.buyer).toBe(soldWh);
  // Every trade of a slot that ended well before the end is settled the same on both sides.
  const finished = sold.filter((d) => d.slot + 2 * SLOT_MS <= end);
  expect(finished.length).toBeGreaterThanOrEqual(2);
  let short = 0;
  for (const s of finished) {
    const b = bought.get(s.tradeId!)!.deal;
    expect(s.status).toBe('settled');
    expect(b.status).toBe('settled');
    expect(s.acknowledged).toBe(true);
    expect(s.peerAllocationWh).toBe(b.ownAllocationWh);
    expect(b.peerAllocationWh).toBe(s.ownAllocationWh);
    expect(s.settledWh).toBe(Math.min(s.ownAllocationWh!, b.ownAllocationWh!));
    expect(b.settledWh).toBe(s.settledWh);
    if (s.settledWh! < s.energyWh) short++;
  }
  expect(short).toBeGreaterThan(0);
}

describe('a seller and two buyers wired directly', () => {
  it('trades match on both sides and settle as the smaller allocation', () => {
    const r = run(() => false);
    check(r);
    // Cheapest offer and the price cap: both buyers bought at the seller's 12 c/kWh.
    expect(deals(r.b1.state).filter((d) => d.tradeId).length).toBeGreaterThan(0);
    expect(deals(r.b2.state).filter((d) => d.tradeId).length).toBeGreaterThan(0);
  });

  it('the same with the first transmission of every accept, trade, ack and settlement lost', () => {
    const seen = new Set<string>();
    let lost = 0;
    const r = run((_from, to, m) => {
      if (m.type === 'offer') return false;
      const key = `${to}/${m.type}/${JSON.stringify(m.body)}`;
      if (seen.has(key)) return false;
      seen.add(key);
      lost++;
      return true;
    });
    expect(lost).toBeGreaterThan(10);
    check(r);
  });

  it('duplicate deliveries of everything change nothing', () => {
    const r = run(() => false);
    const before = {
      s: JSON.stringify(deals(r.seller.state)),
      b1: JSON.stringify(deals(r.b1.state)),
      t: JSON.stringify(totals(r.seller.state)),
    };
    // Deliver every message again, in order, after the fact.
    for (const { to, message } of r.wire.delivered.slice()) {
      const h = r.wire.homes.get(to)!;
      r.wire.route(to, r.end, h.receive(r.end, { ...message, id: `${message.id.slice(0, -4)}ffff` }));
    }
    expect(JSON.stringify(deals(r.seller.state))).toBe(before.s);
    expect(JSON.stringify(deals(r.b1.state))).toBe(before.b1);
    expect(JSON.stringify(totals(r.seller.state))).toBe(before.t);
  });
});
