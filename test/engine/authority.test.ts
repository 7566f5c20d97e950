import { describe, expect, it } from 'vitest';
import { deals, ownOffers, totals } from '../../src/engine/views.js';
import type { AcceptBody, RejectReason } from '../../src/protocol/trading.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';
import { Home, inbound, SLOT_MS, sends, surplus, T0 } from './harness.js';

// The seller home-a has an open offer for S: version 1, 500 Wh, 12 c/kWh.
const S = T0 + SLOT_MS;

function seller(): Home {
  const h = new Home({ smoothingTauMs: 1 });
  h.tick(T0, surplus(2200));
  return h;
}

function accept(over: Partial<AcceptBody> = {}): AcceptBody {
  return {
    acceptId: uuidv7(T0),
    seller: 'home-a',
    slot: S,
    version: 1,
    energyWh: 200,
    minWh: 20,
    maxPriceCentsPerKwh: 15,
    ...over,
  };
}

describe('seller authority: rejects, in check order', () => {
  it.each<{
    name: string;
    at?: number;
    over: Partial<AcceptBody>;
    soldOut?: boolean;
    reason: RejectReason;
    version: number;
    availableWh: number;
  }>([
    { name: 'gate closed', at: S, over: {}, reason: 'expired', version: 1, availableWh: 500 },
    {
      name: 'gate closed beats a wrong version',
      at: S + 1,
      over: { version: 7 },
      reason: 'expired',
      version: 1,
      availableWh: 500,
    },
    {
      name: 'a slot with no offer',
      over: { slot: S + SLOT_MS },
      reason: 'expired',
      version: 0,
      availableWh: 0,
    },
    {
      name: 'a past slot with no offer',
      over: { slot: T0 - SLOT_MS },
      reason: 'expired',
      version: 0,
      availableWh: 0,
    },
    {
      name: 'an accept naming another seller',
      over: { seller: 'home-x' },
      reason: 'expired',
      version: 1,
      availableWh: 500,
    },
    { name: 'wrong version', over: { version: 2 }, reason: 'version', version: 1, availableWh: 500 },
    {
      name: 'wrong version beats price',
      over: { version: 2, maxPriceCentsPerKwh: 1 },
      reason: 'version',
      version: 1,
      availableWh: 500,
    },
    {
      name: 'price too low',
      over: { maxPriceCentsPerKwh: 11.99 },
      reason: 'price',
      version: 1,
      availableWh: 500,
    },
    {
      name: 'price beats filled',
      over: { maxPriceCentsPerKwh: 11 },
      soldOut: true,
      reason: 'price',
      version: 1,
      availableWh: 0,
    },
    { name: 'nothing left', over: {}, soldOut: true, reason: 'filled', version: 1, availableWh: 0 },
    {
      name: 'filled beats insufficient',
      over: { minWh: 200 },
      soldOut: true,
      reason: 'filled',
      version: 1,
      availableWh: 0,
    },
    {
      name: 'less than the minimum left',
      over: { energyWh: 600, minWh: 501 },
      reason: 'insufficient',
      version: 1,
      availableWh: 500,
    },
  ])('$name → $reason', ({ at, over, soldOut, reason, version, availableWh }) => {
    const h = seller();
    if (soldOut) h.receive(T0 + 500, inbound('accept', 'home-c', accept({ energyWh: 500 })));
    const before = ownOffers(h.state);
    const a = accept(over);
    const msg = inbound('accept', 'home-b', a);
    const cmds = h.receive(at ?? T0 + 1000, msg);
    expect(cmds).toEqual([
      {
        kind: 'send',
        message: {
          type: 'reject',
          id: expect.any(String),
          to: { inbox: 'home-b' },
          class: 'reject',
          body: { acceptId: a.acceptId, seller: 'home-a', slot: a.slot, reason, availableWh, version },
          corr: msg.id,
        },
      },
    ]);
    expect(ownOffers(h.state)).toEqual(before);
    expect(totals(h.state).rejects[reason]).toBe(1);
    expect(deals(h.state).filter((d) => d.counterparty === 'home-b')).toEqual([]);
  });
});

describe('seller authority: trades', () => {
  it.each([
    { name: 'full', energyWh: 200, minWh: 20, fill: 200, left: 300 },
    { name: 'all of it', energyWh: 500, minWh: 500, fill: 500, left: 0 },
    { name: 'partial fill', energyWh: 800, minWh: 100, fill: 500, left: 0 },
    { name: 'partial fill at the minimum', energyWh: 800, minWh: 500, fill: 500, left: 0 },
  ])('$name', ({ energyWh, minWh, fill, left }) => {
    const h = seller();
    const a = accept({ energyWh, minWh });
    const msg = inbound('accept', 'home-b', a);
    const cmds = h.receive(T0 + 1000, msg);
    const trades = sends(cmds, 'trade');
    expect(trades.map((m) => [m.to, m.class, m.corr])).toEqual([
      [{ inbox: 'home-b' }, 'trade', msg.id],
      [{ own: 'trades' }, 'trade', msg.id],
    ]);
    const body = trades[0]!.body;
    expect(trades[1]!.body).toEqual(body);
    expect(trades[0]!.id).not.toBe(trades[1]!.id);
    expect(body).toEqual({
      tradeId: expect.any(String),
      acceptId: a.acceptId,
      seller: 'home-a',
      buyer: 'home-b',
      slot: S,
      slotMs: SLOT_MS,
      version: 1,
      energyWh: fill,
      priceCentsPerKwh: 12,
      confirmedAt: T0 + 1000,
    });
    // A sale republishes the offer only when nothing worth asking for is left (minTradeWh).
    expect(sends(cmds, 'offer').map((m) => m.body)).toEqual(
      left < h.engine.config.minTradeWh
        ? [expect.objectContaining({ version: 1, energyWh: 500, availableWh: left })]
        : [],
    );
    expect(ownOffers(h.state)[0]).toMatchObject({
      availableWh: left,
      status: left === 0 ? 'filled' : 'open',
    });
    expect(deals(h.state)).toEqual([
      expect.objectContaining({
        id: body.tradeId,
        role: 'seller',
        status: 'confirmed',
        counterparty: 'home-b',
        energyWh: fill,
        acknowledged: false,
        confirmedAt: T0 + 1000,
      }),
    ]);
    expect(totals(h.state)).toMatchObject({
      trades: { seller: 1, buyer: 0 },
      energyWh: { seller: fill, buyer: 0 },
    });
  });

  it('two competing accepts: the second gets what is left, then nothing', () => {
    const h = seller();
    const first = h.receive(T0 + 1000, inbound('accept', 'home-b', accept({ energyWh: 400 })));
    const second = h.receive(T0 + 1000, inbound('accept', 'home-c', accept({ energyWh: 400, minWh: 50 })));
    const third = h.receive(T0 + 1000, inbound('accept', 'home-d', accept({ energyWh: 400 })));
    expect(sends(first, 'trade')[0]?.body.energyWh).toBe(400);
    expect(sends(second, 'trade')[0]?.body.energyWh).toBe(100);
    expect(sends(third, 'reject')[0]?.body).toMatchObject({ reason: 'filled', availableWh: 0 });
    const sold = deals(h.state).reduce((a, d) => a + d.energyWh, 0);
    expect(sold).toBe(500);
  });

  it('the second of two competing accepts is refused when what is left is below its minimum', () => {
    const h = seller();
    h.receive(T0 + 1000, inbound('accept', 'home-b', accept({ energyWh: 400 })));
    const second = h.receive(T0 + 1000, inbound('accept', 'home-c', accept({ energyWh: 400, minWh: 101 })));
    expect(sends(second, 'reject')[0]?.body).toMatchObject({ reason: 'insufficient', availableWh: 100 });
  });
});

describe('seller authority: replays', () => {
  it.each([
    { name: 'a trade', over: {} as Partial<AcceptBody>, type: 'trade' },
    { name: 'a reject', over: { version: 3 } as Partial<AcceptBody>, type: 'reject' },
  ])('a repeated accept gets the stored answer again: $name', ({ over, type }) => {
    const h = seller();
    const a = accept(over);
    const firstMsg = inbound('accept', 'home-b', a);
    const first = h.receive(T0 + 1000, firstMsg);
    const before = h.state;
    // The same request again (a retransmission: new envelope id), after the offer changed.
    const againMsg = inbound('accept', 'home-b', { ...a });
    const again = h.receive(T0 + 3000, againMsg);
    expect(again).toHaveLength(1);
    const answer = sends(again)[0]!;
    const original = sends(first).find((m) => m.type === type && 'inbox' in m.to)!;
    expect(answer.type).toBe(type);
    expect(answer.body).toEqual(original.body);
    expect(answer.to).toEqual({ inbox: 'home-b' });
    expect(answer.id).not.toBe(original.id);
    expect(answer.corr).toBe(againMsg.id);
    // Nothing else changed: offers, deals and totals are the same.
    expect(ownOffers(h.state)).toEqual(ownOffers(before));
    expect(deals(h.state)).toEqual(deals(before));
    expect(totals(h.state)).toEqual(totals(before));
  });

  it('a replay after gate closure still returns the trade, not expired', () => {
    const h = seller();
    const a = accept();
    const first = h.receive(T0 + 1000, inbound('accept', 'home-b', a));
    const late = h.receive(S + 60_000, inbound('accept', 'home-b', a));
    expect(sends(late, 'trade')[0]?.body).toEqual(sends(first, 'trade')[0]?.body);
  });

  it('the same acceptId from another buyer is a different request', () => {
    const h = seller();
    const a = accept({ energyWh: 100 });
    h.receive(T0 + 1000, inbound('accept', 'home-b', a));
    const other = h.receive(T0 + 2000, inbound('accept', 'home-c', a));
    expect(sends(other, 'trade')[0]?.body).toMatchObject({ buyer: 'home-c', energyWh: 100 });
    expect(ownOffers(h.state)[0]?.availableWh).toBe(300);
  });
});

describe('seller authority: re-sends of unacknowledged trades', () => {
  it('re-sends the inbox copy with backoff until acknowledged', () => {
    const h = new Home({ smoothingTauMs: 1, resendBaseMs: 10_000, resendMaxMs: 35_000 });
    h.tick(T0, surplus(2200));
    const first = h.receive(T0, inbound('accept', 'home-b', accept()));
    const trade = sends(first, 'trade')[0]!;
    const resentAt: number[] = [];
    for (let t = T0 + 1000; t <= T0 + 120_000; t += 1000) {
      const cmds = h.tick(t, surplus(2200));
      for (const m of sends(cmds, 'trade')) {
        expect(m.body).toEqual(trade.body);
        expect(m.to).toEqual({ inbox: 'home-b' });
        resentAt.push(t - T0);
      }
    }
    // Backoff 10 s, ×2, capped at 35 s.
    expect(resentAt).toEqual([10_000, 30_000, 65_000, 100_000]);
    h.receive(T0 + 101_000, inbound('ack', 'home-b', { of: 'trade', tradeId: trade.body.tradeId }));
    expect(deals(h.state)[0]?.acknowledged).toBe(true);
    const after = h.run(T0 + 102_000, T0 + 400_000, surplus(2200));
    expect(sends(after, 'trade')).toEqual([]);
  });

  it('an ack from another home does not stop the re-sends', () => {
    const h = new Home({ smoothingTauMs: 1, resendBaseMs: 10_000 });
    h.tick(T0, surplus(2200));
    const trade = sends(h.receive(T0, inbound('accept', 'home-b', accept())), 'trade')[0]!;
    h.receive(T0 + 1000, inbound('ack', 'home-x', { of: 'trade', tradeId: trade.body.tradeId }));
    expect(deals(h.state)[0]?.acknowledged).toBe(false);
    expect(sends(h.run(T0 + 2000, T0 + 12_000, surplus(2200)), 'trade')).toHaveLength(1);
  });
});
