import { describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../src/engine/types.js';
import { deals, totals } from '../../src/engine/views.js';
import type { OfferBody, TradeBody } from '../../src/protocol/trading.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';
import { Home, inbound, SLOT_MS, sends, T0 } from './harness.js';

// The buyer home-b imports 800 W: it needs 200 Wh for S. It pays at most 20 c/kWh.
const S = T0 + SLOT_MS;
const need800 = { gridPowerW: 800 };

function offer(over: Partial<OfferBody> = {}): OfferBody {
  return {
    slot: S,
    slotMs: SLOT_MS,
    version: 1,
    energyWh: 500,
    availableWh: 500,
    priceCentsPerKwh: 12,
    reserveWh: 0,
    ...over,
  };
}

function buyer(over = {}): Home {
  const h = new Home({ homeId: 'home-b', smoothingTauMs: 1, ...over });
  h.tick(T0, need800);
  return h;
}

function trade(over: Partial<TradeBody> = {}): TradeBody {
  return {
    tradeId: uuidv7(T0),
    acceptId: uuidv7(T0),
    seller: 's1',
    buyer: 'home-b',
    slot: S,
    slotMs: SLOT_MS,
    version: 1,
    energyWh: 200,
    priceCentsPerKwh: 12,
    confirmedAt: T0 + 1000,
    ...over,
  };
}

describe('buyer: choosing an offer', () => {
  it.each<{
    name: string;
    market: Array<[string, Partial<OfferBody>, number?]>;
    asks: Array<[string, number]>;
  }>([
    {
      name: 'cheapest first',
      market: [
        ['s1', { priceCentsPerKwh: 10 }],
        ['s2', { priceCentsPerKwh: 9, availableWh: 120 }],
      ],
      asks: [
        ['s2', 120],
        ['s1', 80],
      ],
    },
    {
      name: 'same price: more available first',
      market: [
        ['s1', { availableWh: 300 }],
        ['s2', { availableWh: 400 }],
      ],
      asks: [['s2', 200]],
    },
    {
      name: 'same price and energy: lower id first',
      market: [
        ['s2', {}],
        ['s1', {}],
      ],
      asks: [['s1', 200]],
    },
    {
      name: 'above the max price: never',
      market: [
        ['s1', { priceCentsPerKwh: 20.01 }],
        ['s2', { priceCentsPerKwh: 20, availableWh: 50 }],
      ],
      asks: [['s2', 50]],
    },
    { name: 'less than minTradeWh available: never', market: [['s1', { availableWh: 19 }]], asks: [] },
    { name: 'another slot: never', market: [['s1', { slot: S + SLOT_MS }]], asks: [] },
    { name: 'expired message: never', market: [['s1', {}, T0 + 500]], asks: [] },
    { name: 'a different slot length: never', market: [['s1', { slotMs: 30 * 60_000 }]], asks: [] },
    { name: 'an offer from itself: never', market: [['home-b', {}]], asks: [] },
    {
      name: 'small offers: up to three at once',
      market: [
        ['s1', { availableWh: 30 }],
        ['s2', { availableWh: 30 }],
        ['s3', { availableWh: 30 }],
        ['s4', { availableWh: 30 }],
      ],
      asks: [
        ['s1', 30],
        ['s2', 30],
        ['s3', 30],
      ],
    },
  ])('$name', ({ market, asks }) => {
    const h = buyer();
    for (const [seller, over, exp] of market)
      h.receive(T0 + 100, inbound('offer', seller, offer(over), { exp: exp ?? S }));
    const cmds = h.tick(T0 + 1000, need800);
    const accepts = sends(cmds, 'accept');
    expect(accepts.map((m) => [m.body.seller, m.body.energyWh])).toEqual(asks);
    for (const m of accepts) {
      expect(m).toMatchObject({ to: { inbox: m.body.seller }, class: 'accept', exp: S });
      expect(m.body).toMatchObject({
        slot: S,
        minWh: Math.min(20, m.body.energyWh),
        maxPriceCentsPerKwh: 20,
      });
    }
    expect(deals(h.state).map((d) => [d.counterparty, d.status])).toEqual(
      asks.map(([s]) => [s, 'requested']).reverse(),
    );
  });

  it('asks nothing when covered, and nothing without a known estimate', () => {
    const h = new Home({ homeId: 'home-b', smoothingTauMs: 1 });
    h.receive(T0, inbound('offer', 's1', offer(), { exp: S }));
    expect(sends(h.run(T0, T0 + 5000, { gridPowerW: { value: 3000, quality: 'stale' } }), 'accept')).toEqual(
      [],
    );
    expect(sends(h.run(T0 + 5000, T0 + 9000, { gridPowerW: 50 }), 'accept')).toEqual([]); // 12 Wh < 20
    expect(sends(h.tick(T0 + 9000, need800), 'accept')).toHaveLength(1);
    expect(sends(h.run(T0 + 10_000, T0 + 20_000, need800), 'accept')).toEqual([]);
  });

  it('the need adds the flexible loads and leaves out those it switched on', () => {
    const h = new Home({
      homeId: 'home-b',
      smoothingTauMs: 1,
      flexLoads: [{ id: 'heater', powerW: 1000, minOnMs: 0, minOffMs: 0 }],
    });
    h.receive(T0, inbound('offer', 's1', offer({ availableWh: 2000, energyWh: 2000 }), { exp: S }));
    const cmds = h.tick(T0 + 1000, need800);
    // 800 W base + 1000 W load → 450 Wh.
    expect(sends(cmds, 'accept').map((m) => m.body.energyWh)).toEqual([450]);
  });

  it('a withdrawn offer is forgotten', () => {
    const h = buyer();
    h.receive(T0 + 100, inbound('offer', 's1', offer(), { exp: S }));
    h.step({ kind: 'offer-withdrawn', home: 's1' }, T0 + 200);
    expect(sends(h.tick(T0 + 1000, need800), 'accept')).toEqual([]);
  });

  it('an older message from the same seller does not replace a newer one', () => {
    const h = buyer();
    // Within a version, less available is newer (fills), whatever the arrival order.
    h.receive(T0 + 100, inbound('offer', 's1', offer({ version: 2, availableWh: 150 }), { exp: S }));
    h.receive(T0 + 200, inbound('offer', 's1', offer({ version: 1, availableWh: 500 }), { exp: S }));
    h.receive(T0 + 300, inbound('offer', 's1', offer({ version: 2, availableWh: 300 }), { exp: S }));
    expect(sends(h.tick(T0 + 1000, need800), 'accept').map((m) => [m.body.version, m.body.energyWh])).toEqual(
      [[2, 150]],
    );
  });
});

describe('buyer: waiting for an answer', () => {
  it('re-sends the same accept every answerTimeoutMs, then expires it at the gate', () => {
    const h = buyer();
    h.receive(T0 + 100, inbound('offer', 's1', offer(), { exp: S }));
    const first = sends(h.tick(T0 + 1000, need800), 'accept')[0]!;
    const resent: number[] = [];
    for (let t = T0 + 2000; t < S + 60_000; t += 1000) {
      for (const m of sends(h.tick(t, need800), 'accept')) {
        expect(m.body).toEqual(first.body);
        expect(m.id).not.toBe(first.id);
        expect(m.exp).toBe(S);
        resent.push(t);
      }
    }
    expect(resent[0]).toBe(T0 + 31_000);
    expect(resent).toHaveLength(29); // every 30 s until the gate at T0 + 900 s
    expect(resent.at(-1)).toBeLessThan(S);
    expect(deals(h.state).find((d) => d.acceptId === first.body.acceptId)?.status).toBe('expired');
  });

  it('a late trade is still binding: recorded and acknowledged', () => {
    const h = buyer();
    h.receive(T0 + 100, inbound('offer', 's1', offer(), { exp: S }));
    const acc = sends(h.tick(T0 + 1000, need800), 'accept')[0]!;
    h.run(T0 + 2000, S + 10_000, need800, 5000);
    const t = trade({ acceptId: acc.body.acceptId, energyWh: 200 });
    const msg = inbound('trade', 's1', t);
    const cmds = h.receive(S + 20_000, msg);
    expect(cmds).toEqual([
      {
        kind: 'send',
        message: {
          type: 'ack',
          id: expect.any(String),
          to: { inbox: 's1' },
          class: 'trade-ack',
          body: { of: 'trade', tradeId: t.tradeId },
          corr: msg.id,
        },
      },
    ]);
    const [d] = deals(h.state).filter((x) => x.slot === S);
    expect(d).toMatchObject({
      id: t.tradeId,
      acceptId: acc.body.acceptId,
      status: 'confirmed',
      energyWh: 200,
      acknowledged: true,
    });
    expect(totals(h.state)).toMatchObject({ trades: { buyer: 1 }, energyWh: { buyer: 200 } });
  });

  it('a trade for an unknown acceptId is recorded too (the seller is the authority)', () => {
    const h = buyer();
    const t = trade();
    expect(sends(h.receive(T0 + 2000, inbound('trade', 's1', t)), 'ack')).toHaveLength(1);
    expect(deals(h.state)).toEqual([
      expect.objectContaining({ id: t.tradeId, status: 'confirmed', counterparty: 's1' }),
    ]);
  });

  it.each([
    { name: 'for another buyer', over: { buyer: 'home-x' }, from: 's1' },
    { name: 'sent by someone else than its seller', over: {}, from: 's9' },
  ])('a trade $name is ignored', ({ over, from }) => {
    const h = buyer();
    expect(h.receive(T0 + 2000, inbound('trade', from, trade(over)))).toEqual([]);
    expect(deals(h.state)).toEqual([]);
  });

  it('a duplicate trade is acknowledged again and counted once', () => {
    const h = buyer();
    const t = trade();
    h.receive(T0 + 2000, inbound('trade', 's1', t));
    const before = h.state;
    const again = h.receive(T0 + 3000, inbound('trade', 's1', t));
    expect(sends(again).map((m) => [m.type, m.body])).toEqual([['ack', { of: 'trade', tradeId: t.tradeId }]]);
    expect(totals(h.state)).toEqual(totals(before));
    expect(deals(h.state)).toEqual(deals(before));
  });

  it('stops asking once the trades cover the need', () => {
    const h = buyer();
    h.receive(T0 + 100, inbound('offer', 's1', offer(), { exp: S }));
    const acc = sends(h.tick(T0 + 1000, need800), 'accept')[0]!;
    h.receive(T0 + 1500, inbound('trade', 's1', trade({ acceptId: acc.body.acceptId, energyWh: 200 })));
    h.receive(T0 + 1600, inbound('offer', 's2', offer({ priceCentsPerKwh: 5 }), { exp: S }));
    expect(sends(h.run(T0 + 2000, T0 + 60_000, need800), 'accept')).toEqual([]);
  });
});

describe('buyer: rejects', () => {
  it.each(['filled', 'insufficient', 'price', 'expired'] as const)(
    '%s: that seller is not asked again at that version',
    (reason) => {
      const h = buyer();
      h.receive(T0 + 100, inbound('offer', 's1', offer(), { exp: S }));
      const acc = sends(h.tick(T0 + 1000, need800), 'accept')[0]!;
      h.receive(
        T0 + 1500,
        inbound('reject', 's1', {
          acceptId: acc.body.acceptId,
          seller: 's1',
          slot: S,
          reason,
          availableWh: 0,
          version: 1,
        }),
      );
      expect(deals(h.state)[0]).toMatchObject({ status: 'rejected', rejectReason: reason });
      expect(sends(h.run(T0 + 2000, T0 + 60_000, need800), 'accept')).toEqual([]);
      // A new version of the offer may be asked.
      h.receive(T0 + 60_000, inbound('offer', 's1', offer({ version: 2, availableWh: 100 }), { exp: S }));
      expect(
        sends(h.tick(T0 + 61_000, need800), 'accept').map((m) => [m.body.version, m.body.energyWh]),
      ).toEqual([[2, 100]]);
    },
  );

  it('version: asks again against the newest offer it knows (a newer offer message)', () => {
    const h = buyer();
    h.receive(T0 + 100, inbound('offer', 's1', offer(), { exp: S }));
    const acc = sends(h.tick(T0 + 1000, need800), 'accept')[0]!;
    h.receive(
      T0 + 1200,
      inbound('offer', 's1', offer({ version: 2, energyWh: 300, availableWh: 300 }), { exp: S }),
    );
    h.receive(
      T0 + 1500,
      inbound('reject', 's1', {
        acceptId: acc.body.acceptId,
        seller: 's1',
        slot: S,
        reason: 'version',
        availableWh: 300,
        version: 2,
      }),
    );
    const again = sends(h.tick(T0 + 2000, need800), 'accept');
    expect(again.map((m) => [m.body.seller, m.body.version, m.body.energyWh])).toEqual([['s1', 2, 200]]);
    expect(again[0]?.body.acceptId).not.toBe(acc.body.acceptId);
  });

  it('version: the reject itself tells the newest version', () => {
    const h = buyer();
    h.receive(T0 + 100, inbound('offer', 's1', offer(), { exp: S }));
    const acc = sends(h.tick(T0 + 1000, need800), 'accept')[0]!;
    h.receive(
      T0 + 1500,
      inbound('reject', 's1', {
        acceptId: acc.body.acceptId,
        seller: 's1',
        slot: S,
        reason: 'version',
        availableWh: 150,
        version: 3,
      }),
    );
    const again = sends(h.tick(T0 + 2000, need800), 'accept');
    expect(again.map((m) => [m.body.version, m.body.energyWh])).toEqual([[3, 150]]);
  });

  it('a reject does not undo a trade', () => {
    const h = buyer();
    h.receive(T0 + 100, inbound('offer', 's1', offer(), { exp: S }));
    const acc = sends(h.tick(T0 + 1000, need800), 'accept')[0]!;
    h.receive(T0 + 1500, inbound('trade', 's1', trade({ acceptId: acc.body.acceptId })));
    h.receive(
      T0 + 1600,
      inbound('reject', 's1', {
        acceptId: acc.body.acceptId,
        seller: 's1',
        slot: S,
        reason: 'filled',
        availableWh: 0,
        version: 1,
      }),
    );
    expect(deals(h.state)[0]?.status).toBe('confirmed');
  });
});

describe('buyer: the market is kept in memory only', () => {
  it('an offer received changes only the volatile state: durable stays the same object', () => {
    const h = buyer();
    const steps: Array<[number, InboundMessage]> = [
      [T0 + 100, inbound('offer', 's1', offer(), { exp: S })],
      [T0 + 200, inbound('offer', 's1', offer({ availableWh: 300 }), { exp: S })], // a fill
      [T0 + 300, inbound('offer', 's1', offer({ availableWh: 400 }), { exp: S })], // older: ignored
      [T0 + 400, inbound('offer', 's2', offer({ version: 3 }), { exp: S })],
      [T0 + 500, inbound('offer', 's3', offer({ slot: T0 }), { exp: S })], // not a future slot
    ];
    for (const [now, msg] of steps) {
      const before = h.state;
      const cmds = h.receive(now, msg);
      expect(cmds).toEqual([]);
      expect(h.state.durable).toBe(before.durable);
    }
    // The same message again (offers are not deduplicated) and a withdrawal: still the same durable.
    const [now, again] = steps[1]!;
    const before = h.state;
    h.receive(now + 1000, again);
    h.step({ kind: 'offer-withdrawn', home: 's2' }, now + 1100);
    expect(h.state.durable).toBe(before.durable);
    // What it learned is used: it asks s1 (version 1, 300 Wh left), s2 is gone.
    const accepts = sends(h.tick(T0 + 2000, need800), 'accept');
    expect(accepts.map((m) => [m.body.seller, m.body.version, m.body.energyWh])).toEqual([['s1', 1, 200]]);
    expect(h.state.durable).not.toBe(before.durable);
  });

  it('the same offer message taken twice does not start a new scan', () => {
    const h = buyer({ maxBuyPriceCentsPerKwh: 5 }); // too dear: nothing to ask
    const msg = inbound('offer', 's1', offer(), { exp: S });
    h.receive(T0 + 100, msg);
    expect(sends(h.tick(T0 + 1000, need800), 'accept')).toEqual([]);
    const market = (h.state.volatile as { market: Record<string, unknown> }).market;
    expect(Object.keys(market)).toEqual(['s1']);
    h.receive(T0 + 1500, msg);
    expect((h.state.volatile as { market: unknown }).market).toBe(market);
  });

  it('a restarted home has an empty market and relearns it from the retained offers delivered again', () => {
    const h = buyer();
    const retained = inbound('offer', 's1', offer(), { exp: S });
    h.receive(T0 + 100, retained);
    // The stored durable state, restored after a restart: no neighbour offer survives it.
    const json = JSON.parse(JSON.stringify(h.state.durable)) as Record<string, unknown>;
    expect(json).not.toHaveProperty('market');
    h.state = h.engine.restore(json, T0 + 500);
    h.step({ kind: 'start' }, T0 + 500);
    h.tick(T0 + 600, need800);
    expect(sends(h.tick(T0 + 1000, need800), 'accept')).toEqual([]);
    // The broker delivers the retained offer again on subscribe: the same message, the same envelope id.
    h.receive(T0 + 1200, retained);
    expect(sends(h.tick(T0 + 2000, need800), 'accept').map((m) => [m.body.seller, m.body.energyWh])).toEqual([
      ['s1', 200],
    ]);
  });

  it('restores a stored state that still has the market in it, and ignores that market', () => {
    const h = buyer();
    const old = {
      ...(JSON.parse(JSON.stringify(h.state.durable)) as Record<string, unknown>),
      market: {
        s1: {
          slot: S,
          version: 1,
          energyWh: 500,
          availableWh: 500,
          priceCentsPerKwh: 12,
          exp: S,
          id: uuidv7(T0),
        },
      },
    };
    const restored = h.engine.restore(old, T0 + 500);
    expect(restored.durable).not.toHaveProperty('market');
    const { market: _market, ...rest } = old;
    expect(restored.durable).toEqual(rest);
    h.state = restored;
    h.step({ kind: 'start' }, T0 + 500);
    h.tick(T0 + 600, need800);
    expect(sends(h.tick(T0 + 1000, need800), 'accept')).toEqual([]);
  });
});
