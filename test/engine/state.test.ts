import { describe, expect, it } from 'vitest';
import { engineId } from '../../src/engine/ids.js';
import { EngineStateError, slotStart } from '../../src/engine/index.js';
import type { EngineEvent, EngineState, InboundMessage } from '../../src/engine/types.js';
import { deals, ownOffers, summary, totals } from '../../src/engine/views.js';
import type { AcceptBody, TradeBody } from '../../src/protocol/trading.js';
import { isUuidV7, uuidv7Time } from '../../src/protocol/uuidv7.js';
import { Home, inbound, runEvents, SLOT_MS, sends, T0, tickEvent } from './harness.js';

const S = T0 + SLOT_MS;
const DAY = 24 * 3_600_000;

function accept(energyWh: number, slot = S, acceptId = engineId('test', energyWh, T0)): AcceptBody {
  return { acceptId, seller: 'home-a', slot, version: 1, energyWh, minWh: 1, maxPriceCentsPerKwh: 20 };
}

/** A scripted busy stretch for one seller: offers, accepts, acks, counters, across slots. */
function script(): Array<{ now: number; event: EngineEvent }> {
  const events: Array<{ now: number; event: EngineEvent }> = [];
  for (let t = T0; t < T0 + 3 * SLOT_MS; t += 5000) {
    const w = -2200 - 800 * Math.sin((t - T0) / 200_000);
    events.push({
      now: t,
      event: tickEvent(t, { gridPowerW: w, gridExportWh: 1000 + (t - T0) / 3600, gridImportWh: 10 }),
    });
    if ((t - T0) % 300_000 === 10_000) {
      const slot = slotStart(t, SLOT_MS) + SLOT_MS;
      const msg: InboundMessage = inbound('accept', 'home-b', accept(40, slot, engineId('home-b', t, t)), {
        id: engineId('home-b-env', t, t),
        ts: t,
      });
      events.push({ now: t + 1, event: { kind: 'message', message: msg } });
    }
  }
  return events;
}

describe('ids', () => {
  it.each([
    ['home-a', 0, T0],
    ['home-a', 1, T0],
    ['home-b', 0, T0],
    ['x', 123_456, 0],
  ])('%s #%i at %i is a UUIDv7 carrying the time', (home, counter, now) => {
    const id = engineId(home, counter, now);
    expect(isUuidV7(id)).toBe(true);
    expect(uuidv7Time(id)).toBe(now);
    expect(engineId(home, counter, now)).toBe(id);
  });

  it('differ by home and by counter', () => {
    const ids = new Set<string>();
    for (const home of ['a', 'b']) for (let c = 0; c < 1000; c++) ids.add(engineId(home, c, T0));
    expect(ids.size).toBe(2000);
  });

  it('the same inputs give identical outputs', () => {
    const a = new Home();
    const b = new Home();
    const ra = runEvents(a.engine, a.state, script());
    const rb = runEvents(b.engine, b.state, script());
    expect(ra.commands.flat().length).toBeGreaterThan(10);
    expect(rb.commands).toEqual(ra.commands);
    expect(rb.state.durable).toEqual(ra.state.durable);
  });
});

describe('durable state', () => {
  it('an idle tick keeps the same durable object', () => {
    const h = new Home({ smoothingTauMs: 1 });
    h.run(T0, T0 + 5000, { gridPowerW: -2200, gridExportWh: 5, gridImportWh: 5 });
    const prev = h.state;
    for (let t = T0 + 5000; t < T0 + 60_000; t += 1000) {
      const r = h.engine.step(
        h.state,
        tickEvent(t, { gridPowerW: -2300, gridExportWh: 6, gridImportWh: 5 }),
        t,
      );
      expect(r.commands).toEqual([]);
      expect(r.state.durable).toBe(prev.durable);
      h.state = r.state;
    }
  });

  it.each<[string, EngineEvent]>([
    [
      'a message it ignores',
      { kind: 'message', message: inbound('ack', 'home-z', { of: 'trade', tradeId: engineId('z', 1, T0) }) },
    ],
    ['an unknown neighbour withdrawing', { kind: 'offer-withdrawn', home: 'home-z' }],
    ['start', { kind: 'start' }],
  ])('%s keeps the same durable object', (_name, event) => {
    const h = new Home({ smoothingTauMs: 1 });
    h.tick(T0, { gridPowerW: -2200 });
    const prev = h.state;
    const r = h.engine.step(prev, event, T0 + 1000);
    expect(r.state.durable).toBe(prev.durable);
  });

  it('a step never modifies its input state', () => {
    const h = new Home();
    let state = h.state;
    for (const { now, event } of script()) {
      const frozen = JSON.stringify(state.durable);
      const r = h.engine.step(state, event, now);
      expect(JSON.stringify(state.durable)).toBe(frozen);
      state = r.state;
    }
  });

  it('a state round-tripped through JSON steps exactly like the original', () => {
    const h = new Home();
    const events = script();
    const half = Math.floor(events.length / 2);
    const mid = runEvents(h.engine, h.state, events.slice(0, half)).state;
    expect(deals(mid).length).toBeGreaterThan(0);
    const rest = events.slice(half);
    const original = runEvents(h.engine, mid, rest);
    const json = JSON.parse(JSON.stringify(mid.durable));
    const copy: EngineState = {
      durable: h.engine.restore(json, rest[0]!.now).durable,
      volatile: mid.volatile,
    };
    const replayed = runEvents(h.engine, copy, rest);
    expect(replayed.commands).toEqual(original.commands);
    expect(JSON.stringify(replayed.state.durable)).toBe(JSON.stringify(original.state.durable));
    // And two restores, from the object and from its JSON, behave the same.
    const fromObject = runEvents(h.engine, h.engine.restore(mid.durable, rest[0]!.now), rest);
    const fromJson = runEvents(h.engine, h.engine.restore(json, rest[0]!.now), rest);
    expect(fromJson.commands).toEqual(fromObject.commands);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'state'],
    ['another version', { v: 2 }],
    [
      'a missing part',
      (() => {
        const { deals: _d, ...rest } = new Home().state.durable as Record<string, unknown>;
        return rest;
      })(),
    ],
    ['a wrong type', { ...(new Home().state.durable as object), counter: -1 }],
    [
      'deals out of slot order',
      {
        ...(new Home().state.durable as object),
        deals: [],
        offers: [
          {
            slot: 2,
            version: 1,
            energyWh: 1,
            soldWh: 0,
            availableWh: 1,
            priceCentsPerKwh: 1,
            reserveWh: 0,
            status: 'open',
            revisedAt: 0,
            ts: 0,
            maxEnergyWh: 1,
          },
          {
            slot: 1,
            version: 1,
            energyWh: 1,
            soldWh: 0,
            availableWh: 1,
            priceCentsPerKwh: 1,
            reserveWh: 0,
            status: 'open',
            revisedAt: 0,
            ts: 0,
            maxEnergyWh: 1,
          },
        ],
      },
    ],
  ])('restore refuses %s', (_name, input) => {
    expect(() => new Home().engine.restore(input, T0)).toThrow(EngineStateError);
  });

  it('restore accepts the initial state and a busy one', () => {
    const h = new Home();
    const busy = runEvents(h.engine, h.state, script()).state;
    for (const s of [h.state, busy]) {
      const r = h.engine.restore(JSON.parse(JSON.stringify(s.durable)), T0);
      expect(r.durable).toEqual(s.durable);
    }
  });
});

describe('step is total', () => {
  const bad: Array<[string, EngineEvent, number]> = [
    ['a time that is not a number', tickEvent(T0), Number.NaN],
    ['an infinite time', tickEvent(T0), Number.POSITIVE_INFINITY],
    [
      'a malformed accept body',
      { kind: 'message', message: inbound('accept', 'home-b', { energyWh: -1 } as unknown as AcceptBody) },
      T0,
    ],
    [
      'a trade with extra fields',
      { kind: 'message', message: inbound('trade', 'home-b', { x: 1 } as unknown as TradeBody) },
      T0,
    ],
    ['a message from itself', { kind: 'message', message: inbound('accept', 'home-a', accept(50)) }, T0],
    [
      'a sender that is not a home id',
      { kind: 'message', message: inbound('accept', '__proto__', accept(50)) },
      T0,
    ],
    [
      'an unknown message type',
      {
        kind: 'message',
        message: {
          ...inbound('ack', 'home-b', { of: 'trade', tradeId: engineId('b', 1, T0) }),
          type: 'nope',
        } as unknown as InboundMessage,
      },
      T0,
    ],
    ['an unknown event', { kind: 'reboot' } as unknown as EngineEvent, T0],
    ['a NaN reading', tickEvent(T0, { gridPowerW: Number.NaN }), T0],
    ['an offer from a neighbour called constructor', { kind: 'offer-withdrawn', home: 'constructor' }, T0],
  ];

  it.each(bad)('%s: no throw, nothing done, no fault', (_name, event, now) => {
    const h = new Home({ smoothingTauMs: 1 });
    h.tick(T0 - 1000, { gridPowerW: -2200 });
    h.tick(T0, { gridPowerW: -2200 });
    const prev = h.state;
    let result: ReturnType<typeof h.engine.step> | undefined;
    expect(() => {
      result = h.engine.step(prev, event, now + 1000);
    }).not.toThrow();
    expect(sends(result!.commands)).toEqual([]);
    expect(result!.state.durable).toBe(prev.durable);
    expect(result!.fault).toBeUndefined();
  });

  it('an exception inside the engine comes back as a fault, the state unchanged, no commands', () => {
    const h = new Home({ smoothingTauMs: 1 });
    h.tick(T0, { gridPowerW: -2200 });
    const prev = h.state;
    const result = h.engine.step(prev, { kind: 'tick', snapshot: {} } as unknown as EngineEvent, T0 + 1000);
    expect(result.state).toBe(prev);
    expect(result.commands).toEqual([]);
    expect(result.fault).toMatchObject({ event: 'tick', text: expect.stringContaining('gridPowerW') });
    expect(result.fault!.error).toBeInstanceOf(TypeError);
  });

  it('a garbage state does not make it throw: it is a fault', () => {
    const h = new Home();
    const garbage = { durable: { v: 1 }, volatile: {} } as unknown as EngineState;
    let result: ReturnType<typeof h.engine.step> | undefined;
    expect(() => {
      result = h.engine.step(garbage, tickEvent(T0, { gridPowerW: -3000 }), T0);
    }).not.toThrow();
    expect(result!.fault?.event).toBe('tick');
    expect(result!.state).toBe(garbage);
  });
});

describe('history', () => {
  it('prunes finished history after keepMs but keeps unsettled trades until slotEnd + keepMs', () => {
    const keepMs = DAY;
    const h = new Home({ smoothingTauMs: 1, keepMs });
    h.tick(T0, { gridPowerW: -4200 });
    const settled = sends(h.receive(T0 + 1000, inbound('accept', 'home-b', accept(100))), 'trade')[0]!.body
      .tradeId;
    const unsettled = sends(
      h.receive(T0 + 2000, inbound('accept', 'home-c', accept(100, S, engineId('c', 1, T0)))),
      'trade',
    )[0]!.body.tradeId;
    h.receive(T0 + 2500, inbound('accept', 'home-d', accept(100, S, engineId('d', 1, T0)), {}));
    h.receive(
      T0 + 3000,
      inbound('accept', 'home-e', { ...accept(100), version: 9, acceptId: engineId('e', 1, T0) }),
    );
    h.receive(T0 + 3000, inbound('ack', 'home-b', { of: 'trade', tradeId: settled }));
    // Past the slot: allocate, and home-b settles; home-c never answers.
    h.run(S, S + SLOT_MS + 10_000, { gridPowerW: -1600 }, 5000);
    h.receive(
      S + SLOT_MS + 10_000,
      inbound('settlement', 'home-b', {
        tradeId: settled,
        slot: S,
        role: 'buyer',
        tradedWh: 100,
        allocatedWh: 100,
        basis: 'meter',
      }),
    );
    expect(deals(h.state).find((d) => d.tradeId === settled)?.status).toBe('settled');
    const edge = S + SLOT_MS + keepMs;
    // Tick through a day at a coarse step; the state keeps the slot S trades until the edge.
    for (let t = S + SLOT_MS + 60_000; t < edge; t += 600_000) h.tick(t, { gridPowerW: 0 });
    h.tick(edge - 1, { gridPowerW: 0 });
    expect(
      deals(h.state)
        .filter((d) => d.slot === S)
        .map((d) => d.tradeId),
    ).toEqual(expect.arrayContaining([settled, unsettled]));
    expect(ownOffers(h.state).some((o) => o.slot === S)).toBe(true);
    const durableBefore = JSON.stringify(h.state.durable).length;
    h.tick(edge + SLOT_MS, { gridPowerW: 0 });
    expect(deals(h.state).filter((d) => d.slot === S)).toEqual([]);
    expect(ownOffers(h.state).some((o) => o.slot === S)).toBe(false);
    expect((h.state.durable as unknown as { answers: object }).answers).toEqual({});
    expect(JSON.stringify(h.state.durable).length).toBeLessThan(durableBefore);
    // The totals are not history: they stay.
    expect(totals(h.state).trades.seller).toBe(3);
    expect(totals(h.state).rejects.version).toBe(1);
  });

  it('a long busy run keeps the state bounded', () => {
    const h = new Home({ smoothingTauMs: 1, keepMs: 2 * 3_600_000 });
    let biggest = 0;
    for (let t = T0; t < T0 + 12 * 3_600_000; t += 10_000) {
      h.tick(t, { gridPowerW: -4200, gridExportWh: (t - T0) / 1000, gridImportWh: 0 });
      if ((t - T0) % SLOT_MS === 20_000) {
        const slot = slotStart(t, SLOT_MS) + SLOT_MS;
        const acc = accept(100, slot, engineId('b', t, t));
        const cmds = h.receive(t, inbound('accept', 'home-b', acc));
        const tradeId = sends(cmds, 'trade')[0]?.body.tradeId;
        if (tradeId) h.receive(t + 1, inbound('ack', 'home-b', { of: 'trade', tradeId }));
      }
      if (t - T0 > 6 * 3_600_000) biggest = Math.max(biggest, JSON.stringify(h.state.durable).length);
    }
    expect(totals(h.state).trades.seller).toBe(48);
    // 2 h of history: at most ~10 slots of deals, offers and answers.
    expect(deals(h.state).length).toBeLessThanOrEqual(10);
    expect(biggest).toBeLessThan(30_000);
    expect(summary(h.state).role).toBe('seller');
  });
});
