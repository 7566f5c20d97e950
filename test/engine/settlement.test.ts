import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/engine/types.js';
import { deals } from '../../src/engine/views.js';
import type { AcceptBody, SettlementBody } from '../../src/protocol/trading.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';
import { Home, inbound, SLOT_MS, sends, T0, type Values } from './harness.js';

// home-a sells in slot S; its allocation is due at S + SLOT_MS + settleDelayMs (5 s).
const S = T0 + SLOT_MS;
const END = S + SLOT_MS;
const DUE = END + 5000;

function accept(energyWh: number): AcceptBody {
  return {
    acceptId: uuidv7(T0),
    seller: 'home-a',
    slot: S,
    version: 1,
    energyWh,
    minWh: 1,
    maxPriceCentsPerKwh: 20,
  };
}

/** A seller with trades in S (in this order), stepped to just before its allocation is due. */
function sellerWithTrades(
  buyers: Array<[string, number]>,
  values: (t: number) => Values,
  everyMs = 1000,
): Home {
  const h = new Home({ smoothingTauMs: 1, resendBaseMs: 10_000, resendMaxMs: 40_000 });
  h.tick(T0, { gridPowerW: -4200 });
  buyers.forEach(([buyer, wh], i) => {
    h.receive(T0 + 1000 + i * 1000, inbound('accept', buyer, accept(wh)));
  });
  h.run(T0 + 10_000, DUE, values, everyMs);
  return h;
}

/** Export of `w` watts all along, and export counters unless `counters` is false. */
function exporting(w: number, counters = true) {
  return (t: number): Values => ({
    gridPowerW: -w,
    ...(counters ? { gridExportWh: 10_000 + (w * (t - T0)) / 3_600_000, gridImportWh: 500 } : {}),
  });
}

function settlements(cmds: Command[]) {
  return sends(cmds, 'settlement');
}

describe('settlement: what each trade gets', () => {
  it.each([
    {
      name: 'meter basis, enough for all',
      values: exporting(1600),
      trades: [
        ['home-c', 200],
        ['home-b', 100],
      ] as Array<[string, number]>,
      allocs: [200, 100],
      basis: 'meter',
    },
    {
      name: 'meter basis, allocated in confirmation order',
      values: exporting(1200), // 300 Wh over the slot
      trades: [
        ['home-c', 200],
        ['home-b', 200],
      ] as Array<[string, number]>,
      allocs: [200, 100],
      basis: 'meter',
    },
    {
      name: 'meter basis, nothing exported',
      values: exporting(0),
      trades: [['home-b', 200]] as Array<[string, number]>,
      allocs: [0],
      basis: 'meter',
    },
    {
      name: 'integrated when the counters are missing',
      values: exporting(1200, false),
      trades: [
        ['home-c', 250],
        ['home-b', 100],
      ] as Array<[string, number]>,
      allocs: [250, 50],
      basis: 'integrated',
    },
    {
      name: 'integrated when the start reading comes too late to stand for the boundary',
      values: (t: number) => (t >= S && t < S + 11_000 ? exporting(1200, false)(t) : exporting(1200)(t)),
      trades: [['home-b', 200]] as Array<[string, number]>,
      allocs: [200],
      basis: 'integrated',
    },
    {
      name: 'integrated when the end reading is missing',
      values: (t: number) => (t >= END ? exporting(1200, false)(t) : exporting(1200)(t)),
      trades: [['home-b', 200]] as Array<[string, number]>,
      allocs: [200],
      basis: 'integrated',
    },
  ])('$name', ({ values, trades, allocs, basis }) => {
    const h = sellerWithTrades(trades, values);
    expect(settlements(h.allCommands())).toEqual([]);
    const cmds = h.tick(DUE, values(DUE));
    const sent = settlements(cmds);
    const byTrade = new Map(deals(h.state).map((d) => [d.tradeId, d]));
    // Each trade: one inbox copy to its buyer, one copy on the trades topic.
    expect(sent).toHaveLength(trades.length * 2);
    const inbox = sent.filter((m) => 'inbox' in m.to);
    expect(
      inbox.map((m) => [
        (m.to as { inbox: string }).inbox,
        m.body.tradedWh,
        m.body.allocatedWh,
        m.body.basis,
      ]),
    ).toEqual(trades.map(([buyer, wh], i) => [buyer, wh, allocs[i], basis]));
    for (const m of inbox) {
      expect(m.class).toBe('settlement');
      expect(m.body).toMatchObject({ slot: S, role: 'seller' });
      expect(byTrade.get(m.body.tradeId)?.ownAllocationWh).toBe(m.body.allocatedWh);
      expect(sent.filter((c) => 'own' in c.to && c.body.tradeId === m.body.tradeId).map((c) => c.to)).toEqual(
        [{ own: 'trades' }],
      );
    }
  });

  it('nothing known (restarted during the slot, no counters): basis none, 0', () => {
    const h = new Home({ smoothingTauMs: 1 });
    h.tick(T0, { gridPowerW: -4200 });
    h.receive(T0 + 1000, inbound('accept', 'home-b', accept(200)));
    h.run(T0 + 2000, S + 60_000, exporting(1200, false));
    h.state = h.engine.restore(JSON.parse(JSON.stringify(h.state.durable)), S + 61_000);
    h.step({ kind: 'start' }, S + 61_000);
    h.run(S + 61_000, DUE, exporting(1200, false));
    const sent = settlements(h.tick(DUE, exporting(1200, false)(DUE)));
    expect(sent[0]?.body).toMatchObject({ allocatedWh: 0, basis: 'none' });
  });

  it('the buyer allocates its metered import', () => {
    const h = new Home({ homeId: 'home-b', smoothingTauMs: 1 });
    const trade = {
      tradeId: uuidv7(T0),
      acceptId: uuidv7(T0),
      seller: 's1',
      buyer: 'home-b',
      slot: S,
      slotMs: SLOT_MS,
      version: 1,
      energyWh: 400,
      priceCentsPerKwh: 12,
      confirmedAt: T0 + 1000,
    };
    h.receive(T0 + 1000, inbound('trade', 's1', trade));
    const values = (t: number): Values => ({
      gridPowerW: 1200,
      gridImportWh: 100 + (1200 * (t - T0)) / 3_600_000,
      gridExportWh: 0,
    });
    h.run(T0 + 2000, DUE, values);
    const sent = settlements(h.tick(DUE, values(DUE)));
    expect(sent.filter((m) => 'inbox' in m.to).map((m) => m.body)).toEqual([
      { tradeId: trade.tradeId, slot: S, role: 'buyer', tradedWh: 400, allocatedWh: 300, basis: 'meter' },
    ]);
  });
});

describe('settlement: the exchange', () => {
  function peer(tradeId: string, allocatedWh: number, role: 'buyer' | 'seller' = 'buyer'): SettlementBody {
    return { tradeId, slot: S, role, tradedWh: 200, allocatedWh, basis: 'meter' };
  }

  it.each([
    { name: 'peer allocated less', own: 200, peerWh: 150, settled: 150 },
    { name: 'peer allocated more', own: 100, peerWh: 200, settled: 100 },
    { name: 'equal', own: 200, peerWh: 200, settled: 200 },
  ])('settled = min of the two: $name', ({ own, peerWh, settled }) => {
    const h = sellerWithTrades([['home-b', 200]], exporting(own * 4));
    h.tick(DUE, exporting(own * 4)(DUE));
    const tradeId = deals(h.state)[0]!.tradeId!;
    const msg = inbound('settlement', 'home-b', peer(tradeId, peerWh));
    const cmds = h.receive(DUE + 1000, msg);
    expect(sends(cmds).map((m) => [m.type, m.to, m.class, m.body, m.corr])).toEqual([
      ['ack', { inbox: 'home-b' }, 'trade-ack', { of: 'settlement', tradeId }, msg.id],
    ]);
    expect(deals(h.state)[0]).toMatchObject({
      status: 'settled',
      ownAllocationWh: own,
      peerAllocationWh: peerWh,
      settledWh: settled,
    });
  });

  it('a peer allocation that arrives first is kept until the own one is made', () => {
    const h = sellerWithTrades([['home-b', 200]], exporting(1200));
    const tradeId = deals(h.state)[0]!.tradeId!;
    expect(
      sends(h.receive(DUE - 1000, inbound('settlement', 'home-b', peer(tradeId, 120))), 'ack'),
    ).toHaveLength(1);
    expect(deals(h.state)[0]).toMatchObject({ status: 'confirmed', peerAllocationWh: 120, settledWh: null });
    h.tick(DUE, exporting(1200)(DUE));
    expect(deals(h.state)[0]).toMatchObject({ status: 'settled', ownAllocationWh: 200, settledWh: 120 });
  });

  it('duplicates are acknowledged again and change nothing', () => {
    const h = sellerWithTrades([['home-b', 200]], exporting(1200));
    h.tick(DUE, exporting(1200)(DUE));
    const tradeId = deals(h.state)[0]!.tradeId!;
    h.receive(DUE + 1000, inbound('settlement', 'home-b', peer(tradeId, 150)));
    const before = deals(h.state);
    const again = h.receive(DUE + 2000, inbound('settlement', 'home-b', peer(tradeId, 10)));
    expect(sends(again, 'ack')).toHaveLength(1);
    expect(deals(h.state)).toEqual(before);
  });

  it.each([
    { name: 'an unknown trade', from: 'home-b', tradeId: uuidv7(T0), role: 'buyer' as const },
    { name: 'someone else than the counterparty', from: 'home-x', tradeId: null, role: 'buyer' as const },
    { name: 'the same role as this side', from: 'home-b', tradeId: null, role: 'seller' as const },
  ])('a settlement from $name is ignored and not acknowledged', ({ from, tradeId, role }) => {
    const h = sellerWithTrades([['home-b', 200]], exporting(1200));
    const id = tradeId ?? deals(h.state)[0]!.tradeId!;
    expect(h.receive(DUE - 1000, inbound('settlement', from, peer(id, 100, role)))).toEqual([]);
    expect(deals(h.state)[0]?.peerAllocationWh).toBeNull();
  });

  it('re-sends the inbox copy with backoff (doubling, capped) until acknowledged', () => {
    const h = sellerWithTrades([['home-b', 200]], exporting(1200));
    // The buyer acknowledged the trade itself, so only settlements are re-sent here.
    const tradeId = deals(h.state)[0]!.tradeId!;
    h.receive(T0 + 5000, inbound('ack', 'home-b', { of: 'trade', tradeId }));
    const first = settlements(h.tick(DUE, exporting(1200)(DUE))).find((m) => 'inbox' in m.to)!;
    const at: number[] = [];
    for (let t = DUE + 1000; t <= DUE + 200_000; t += 1000) {
      for (const m of settlements(h.tick(t, exporting(1200)(t)))) {
        expect(m.to).toEqual({ inbox: 'home-b' });
        expect(m.body).toEqual(first.body);
        at.push(t - DUE);
      }
    }
    // resendBaseMs 10 s, ×2, resendMaxMs 40 s.
    expect(at).toEqual([10_000, 30_000, 70_000, 110_000, 150_000, 190_000]);
    h.receive(DUE + 200_500, inbound('ack', 'home-b', { of: 'settlement', tradeId }));
    const after = h.run(DUE + 201_000, DUE + 600_000, exporting(1200), 5000);
    expect(settlements(after)).toEqual([]);
  });
});
