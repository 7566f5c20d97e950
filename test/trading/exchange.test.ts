import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listTrades } from '../../src/control/trades.js';
import { deals, ownOffers, totals } from '../../src/engine/views.js';
import type { Envelope } from '../../src/protocol/envelope.js';
import { createVerifier } from '../../src/protocol/signing.js';
import { homeTopic } from '../../src/protocol/topics.js';
import type { AcceptBody, OfferBody, TradeBody } from '../../src/protocol/trading.js';
import type { OutboxRow } from '../../src/store/index.js';
import { createTradeBook } from '../../src/trading/trade-book.js';
import { tradeRecord } from '../../src/trading/trades-repository.js';
import {
  type Clock,
  decoded,
  drain,
  gridSnapshot,
  type Home,
  openHome,
  SLOT_MS,
  snapshotOf,
  T0,
  testKeyring,
  ZONE,
} from './home.js';

const key = (): KeyObject => generateKeyPairSync('ed25519').privateKey;
const NEXT_SLOT = Math.floor(T0 / SLOT_MS) * SLOT_MS + SLOT_MS;

describe('two hosts trading by hand: offer → accept → trade → ack', () => {
  let dir: string;
  let clock: Clock;
  let seller: Home;
  let buyer: Home;
  const keys = { seller: key(), buyer: key() };
  const keyring = testKeyring({ seller: keys.seller, buyer: keys.buyer });
  const verify = createVerifier(keyring);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'powerdeal-trading-'));
    clock = { now: T0 };
    seller = openHome({ id: 'seller', path: join(dir, 'seller.db'), key: keys.seller, keyring, clock });
    buyer = openHome({ id: 'buyer', path: join(dir, 'buyer.db'), key: keys.buyer, keyring, clock });
    seller.host.start();
    buyer.host.start();
  });
  afterEach(() => {
    seller.store.close();
    buyer.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every row must carry a valid envelope signed by its sender. */
  function checked(rows: OutboxRow[]): { row: OutboxRow; env: Envelope }[] {
    return rows.map((row) => {
      const env = decoded(row);
      expect(verify(env, row.payload), `${env.type} signature`).toBeNull();
      return { row, env };
    });
  }

  function deliver(to: Home, row: OutboxRow): void {
    const outcome = to.inbox.handle(row.topic, row.payload);
    expect(outcome.kind, JSON.stringify(outcome)).toBe('accepted');
  }

  it('moves each message through the right class, topic and expiry, signed, and records the trade', () => {
    // The seller exports 3 kW: an offer for the next slot, retained on its offer topic.
    seller.host.tick(gridSnapshot(clock, -3000));
    const offerTopic = homeTopic(ZONE, 'seller', 'offer');
    const [offer, ...moreOffers] = checked(drain(seller.store, clock.now));
    expect(moreOffers).toEqual([]);
    expect(offer!.row).toMatchObject({
      class: 'offer',
      topic: offerTopic,
      retain: true,
      expiresAt: NEXT_SLOT,
      coalesceKey: offerTopic,
    });
    expect(offer!.env).toMatchObject({ type: 'offer', from: 'seller', zone: ZONE, exp: NEXT_SLOT, ts: T0 });
    const offerBody = offer!.env.body as OfferBody;
    expect(offerBody).toMatchObject({ slot: NEXT_SLOT, version: 1, priceCentsPerKwh: 12 });
    expect(offerBody.availableWh).toBe(offerBody.energyWh);
    expect(offerBody.energyWh).toBe(Math.floor(((3000 - 200) * SLOT_MS) / 3_600_000));
    expect(seller.notified).toBeGreaterThan(0);

    // The buyer learns the offer from the retained topic and, importing 2 kW, asks for its need.
    clock.now += 1000;
    deliver(buyer, offer!.row);
    buyer.host.tick(gridSnapshot(clock, 2000));
    const [accept, ...moreAccepts] = checked(drain(buyer.store, clock.now));
    expect(moreAccepts).toEqual([]);
    expect(accept!.row).toMatchObject({
      class: 'accept',
      topic: homeTopic(ZONE, 'seller', 'inbox'),
      retain: false,
      expiresAt: NEXT_SLOT,
    });
    const acceptBody = accept!.env.body as AcceptBody;
    expect(acceptBody).toMatchObject({ seller: 'seller', slot: NEXT_SLOT, version: 1, energyWh: 500 });
    expect(deals(buyer.host.state)).toMatchObject([{ role: 'buyer', status: 'requested', energyWh: 500 }]);

    // The seller commits the trade: the buyer's inbox and a copy on its trades topic. The offer is not
    // re-published: more than minTradeWh is still left (a sale re-publishes only a filled offer).
    clock.now += 1000;
    const seqBefore = seller.store.seq.peek();
    deliver(seller, accept!.row);
    const answer = checked(drain(seller.store, clock.now));
    const byTopic = (topic: string) => answer.filter((a) => a.row.topic === topic);
    const [trade] = byTopic(homeTopic(ZONE, 'buyer', 'inbox'));
    const [copy] = byTopic(homeTopic(ZONE, 'seller', 'trades'));
    expect(byTopic(offerTopic)).toEqual([]);
    expect(answer).toHaveLength(2);
    expect(trade!.row).toMatchObject({ class: 'trade', retain: false });
    expect(trade!.row.expiresAt).toBeUndefined();
    expect(trade!.env).toMatchObject({ type: 'trade', corr: accept!.env.id });
    expect(copy!.row.class).toBe('trade');
    expect(copy!.env.body).toEqual(trade!.env.body);
    const tradeBody = trade!.env.body as TradeBody;
    expect(tradeBody).toMatchObject({
      acceptId: acceptBody.acceptId,
      seller: 'seller',
      buyer: 'buyer',
      slot: NEXT_SLOT,
      energyWh: 500,
      priceCentsPerKwh: 12,
      confirmedAt: clock.now,
    });
    expect(offerBody.energyWh - 500).toBeGreaterThanOrEqual(20);
    // Envelope seq numbers are fresh and increasing.
    const seqs = answer.map((a) => a.env.seq);
    expect(Math.min(...seqs)).toBeGreaterThanOrEqual(seqBefore);
    expect(new Set(seqs).size).toBe(seqs.length);

    // The buyer records the purchase and acknowledges it, never-shed.
    clock.now += 1000;
    deliver(buyer, trade!.row);
    const [ack, ...moreAcks] = checked(drain(buyer.store, clock.now));
    expect(moreAcks).toEqual([]);
    expect(ack!.row).toMatchObject({ class: 'trade-ack', topic: homeTopic(ZONE, 'seller', 'inbox') });
    expect(ack!.env.body).toEqual({ of: 'trade', tradeId: tradeBody.tradeId });
    deliver(seller, ack!.row);
    expect(drain(seller.store, clock.now)).toEqual([]);

    const sellerDeal = deals(seller.host.state);
    const buyerDeal = deals(buyer.host.state);
    expect(sellerDeal).toMatchObject([
      { id: tradeBody.tradeId, role: 'seller', status: 'confirmed', acknowledged: true, energyWh: 500 },
    ]);
    expect(buyerDeal).toMatchObject([
      { id: tradeBody.tradeId, role: 'buyer', status: 'confirmed', counterparty: 'seller', energyWh: 500 },
    ]);
    expect(totals(seller.host.state).trades.seller).toBe(1);
    expect(totals(buyer.host.state).trades.buyer).toBe(1);

    // The trades table holds exactly the views (the request row became the trade row), and the CLI reads it.
    for (const h of [seller, buyer]) {
      const rows = h.store.db.prepare('SELECT * FROM trades ORDER BY id').all();
      expect(rows).toEqual(deals(h.host.state).map(tradeRecord));
      expect(listTrades(h.store.db)).toEqual([
        {
          id: tradeBody.tradeId,
          slot: NEXT_SLOT,
          role: h === seller ? 'seller' : 'buyer',
          counterparty: h === seller ? 'buyer' : 'seller',
          energyWh: 500,
          priceCentsPerKwh: 12,
          state: 'confirmed',
          rejectReason: null,
          ownAllocationWh: null,
          peerAllocationWh: null,
          settledWh: null,
        },
      ]);
    }
    const stats = seller.host.stats();
    expect(stats).toMatchObject({ failures: 0, lastError: null, restoreFailures: 0 });
    expect(stats.sent).toMatchObject({ offer: 1, trade: 2, accept: 0 });
    expect(stats.steps).toBeGreaterThanOrEqual(4);
    expect(stats.stepMs.p50).not.toBeNull();
    expect(buyer.host.stats().sent).toMatchObject({ accept: 1, ack: 1 });

    // The page's book: the trade from the table, the offer and totals from the engine.
    const book = createTradeBook(seller.host, seller.store);
    expect(book.trades(0)).toMatchObject([
      { id: tradeBody.tradeId, role: 'seller', state: 'confirmed', slot: NEXT_SLOT, energyWh: 500 },
    ]);
    expect(book.trades(clock.now + 1)).toEqual([]);
    expect(book.offers(0)).toMatchObject([
      {
        slot: NEXT_SLOT,
        energyWh: offerBody.energyWh,
        remainingWh: offerBody.energyWh - 500,
        state: 'open',
        exp: NEXT_SLOT,
      },
    ]);
    expect(book.totals()).toMatchObject({
      trades: { seller: 1, buyer: 0 },
      energyWh: { seller: 500 },
      offers: 1,
    });
    expect(ownOffers(seller.host.state)).toHaveLength(1);
  });

  /** The whole exchange without the checks of the first test; returns the trade id. */
  function exchange(): string {
    seller.host.tick(gridSnapshot(clock, -3000));
    for (const r of drain(seller.store, clock.now)) deliver(buyer, r);
    buyer.host.tick(gridSnapshot(clock, 2000));
    for (const r of drain(buyer.store, clock.now)) deliver(seller, r);
    const answer = drain(seller.store, clock.now).filter((r) => r.topic.endsWith('/buyer/inbox'));
    for (const r of answer) deliver(buyer, r);
    for (const r of drain(buyer.store, clock.now)) deliver(seller, r);
    return (decoded(answer[0]!).body as TradeBody).tradeId;
  }

  it('settles the trade from the meter counters after its slot; the table follows', () => {
    const tradeId = exchange();
    const meter = (h: Home, importWh: number, exportWh: number) =>
      h.host.tick(snapshotOf(clock, { gridImportWh: importWh, gridExportWh: exportWh }));
    clock.now = NEXT_SLOT + 1000;
    meter(seller, 100, 10_000);
    meter(buyer, 20_000, 0);
    clock.now = NEXT_SLOT + SLOT_MS + 1000;
    meter(seller, 100, 10_600); // exported 600 Wh in the slot: all of the 500 Wh sold
    meter(buyer, 20_450, 0); // imported only 450 Wh
    clock.now += 5000;
    meter(seller, 100, 10_600);
    meter(buyer, 20_450, 0);

    const fromSeller = checked(drain(seller.store, clock.now)).filter((m) => m.env.type === 'settlement');
    const fromBuyer = checked(drain(buyer.store, clock.now)).filter((m) => m.env.type === 'settlement');
    expect(fromSeller.map((m) => [m.row.class, m.row.topic])).toEqual(
      expect.arrayContaining([
        ['settlement', homeTopic(ZONE, 'buyer', 'inbox')],
        ['settlement', homeTopic(ZONE, 'seller', 'trades')],
      ]),
    );
    expect(fromBuyer.map((m) => [m.row.class, m.row.topic])).toContainEqual([
      'settlement',
      homeTopic(ZONE, 'seller', 'inbox'),
    ]);
    expect(fromSeller[0]!.env.body).toMatchObject({
      tradeId,
      role: 'seller',
      allocatedWh: 500,
      basis: 'meter',
    });
    expect(fromBuyer[0]!.env.body).toMatchObject({
      tradeId,
      role: 'buyer',
      allocatedWh: 450,
      basis: 'meter',
    });
    const toInbox = (m: { row: OutboxRow }) => m.row.topic.endsWith('/inbox');
    for (const m of fromSeller.filter(toInbox)) deliver(buyer, m.row);
    for (const m of fromBuyer.filter(toInbox)) deliver(seller, m.row);
    // Each side acknowledges the other's settlement, never-shed.
    for (const [from, to] of [
      [seller, buyer],
      [buyer, seller],
    ] as const) {
      const acks = drain(from.store, clock.now).filter((r) => decoded(r).type === 'ack');
      expect(acks.map((r) => decoded(r).body)).toEqual([{ of: 'settlement', tradeId }]);
      expect(acks[0]!.class).toBe('trade-ack');
      for (const r of acks) deliver(to, r);
    }

    expect(deals(seller.host.state)).toMatchObject([
      { id: tradeId, status: 'settled', ownAllocationWh: 500, peerAllocationWh: 450, settledWh: 450 },
    ]);
    expect(deals(buyer.host.state)).toMatchObject([
      { id: tradeId, status: 'settled', ownAllocationWh: 450, peerAllocationWh: 500, settledWh: 450 },
    ]);
    for (const h of [seller, buyer]) {
      expect(h.store.db.prepare('SELECT * FROM trades ORDER BY id').all()).toEqual(
        deals(h.host.state).map(tradeRecord),
      );
      expect(listTrades(h.store.db)).toMatchObject([
        { id: tradeId, state: 'settled', energyWh: 500, settledWh: 450 },
      ]);
    }
  });

  it('commits durably only the steps that record a promise to a neighbour', () => {
    // Each row is attributed to the innermost transaction that wrote it (the host's, not the inbox's).
    const calls: { durable: boolean; types: string[] }[] = [];
    const attributed = new Set<string>();
    for (const h of [seller, buyer]) {
      const inner = h.store.transaction.bind(h.store);
      h.store.transaction = (fn, opts) => {
        const before = new Set(h.store.outbox.list().map((r) => r.rowId));
        return inner(() => {
          const out = fn();
          const rows = h.store.outbox
            .list()
            .filter((r) => !before.has(r.rowId) && !attributed.has(`${h.id}:${r.rowId}`));
          for (const r of rows) attributed.add(`${h.id}:${r.rowId}`);
          const types = rows.map((r) => (r.payload.length === 0 ? 'clear-offer' : decoded(r).type));
          if (types.length > 0) calls.push({ durable: opts?.durable === true, types });
          return out;
        }, opts);
      };
    }
    exchange();
    expect(calls).toEqual([
      { durable: false, types: ['offer'] },
      { durable: false, types: ['accept'] },
      { durable: true, types: ['trade', 'trade'] },
      { durable: true, types: ['ack'] },
    ]);
  });

  it('clears a withdrawn offer with an empty retained payload that replaces the unsent offer row', () => {
    seller.host.tick(gridSnapshot(clock, -3000));
    const [offer] = seller.store.outbox.list({ class: 'offer' });
    expect(offer!.payload.length).toBeGreaterThan(0);
    deliver(buyer, offer!);
    // The surplus goes away: the smoothed estimate falls below the withdraw threshold within minutes.
    for (let i = 0; i < 600 && ownOffers(seller.host.state)[0]?.status === 'open'; i++) {
      clock.now += 1000;
      seller.host.tick(gridSnapshot(clock, 500, i + 1));
    }
    expect(ownOffers(seller.host.state)[0]).toMatchObject({ status: 'withdrawn' });
    expect(seller.host.stats().sent['clear-offer']).toBe(1);
    const rows = seller.store.outbox.list();
    expect(rows).toHaveLength(1);
    const offerTopic = homeTopic(ZONE, 'seller', 'offer');
    expect(rows[0]).toMatchObject({
      class: 'offer',
      topic: offerTopic,
      retain: true,
      expiresAt: NEXT_SLOT,
      coalesceKey: offerTopic,
    });
    expect(rows[0]!.payload.length).toBe(0);
    // Every unsent offer row (the first and any downward revision) was replaced by the newer one.
    expect(seller.store.outbox.stats(clock.now).drops.coalesced).toBe(seller.host.stats().sent.offer);
    // On the buyer's side the empty retained payload withdraws the offer.
    expect(buyer.inbox.handle(rows[0]!.topic, rows[0]!.payload)).toEqual({
      kind: 'offer-withdrawn',
      home: 'seller',
    });
    buyer.host.tick(gridSnapshot(clock, 2000));
    expect(buyer.store.outbox.list()).toEqual([]);
  });

  it('ignores non-trading envelopes and refuses a forged accept before the engine sees it', () => {
    seller.host.tick(gridSnapshot(clock, -3000));
    const before = seller.host.state;
    const steps = seller.host.stats().steps;
    seller.host.message({
      v: 1,
      id: '01900000-0000-7000-8000-000000000000',
      type: 'telemetry',
      from: 'buyer',
      zone: ZONE,
      seq: 1,
      ts: clock.now,
      body: {},
    });
    expect(seller.host.state).toBe(before);
    expect(seller.host.stats().steps).toBe(steps);

    // An accept signed with a key that is not the buyer's is dead-lettered by the inbox.
    const intruder = openHome({ id: 'buyer', path: join(dir, 'intruder.db'), key: key(), keyring, clock });
    try {
      const [offer] = seller.store.outbox.list({ class: 'offer' });
      intruder.host.start();
      deliver(intruder, offer!);
      intruder.host.tick(gridSnapshot(clock, 2000));
      const [forged] = intruder.store.outbox.list({ class: 'accept' });
      expect(seller.inbox.handle(forged!.topic, forged!.payload)).toMatchObject({
        kind: 'rejected',
        reason: 'bad-signature',
      });
      expect(seller.host.state).toBe(before);
    } finally {
      intruder.store.close();
    }
  });
});
