import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deals, ownOffers, totals } from '../../src/engine/views.js';
import type { Envelope } from '../../src/protocol/envelope.js';
import type { TradeBody } from '../../src/protocol/trading.js';
import type { OutboxRow } from '../../src/store/index.js';
import { UNRESTORABLE_STATE_KEY } from '../../src/trading/state-table.js';
import {
  type Clock,
  captureLog,
  decoded,
  drain,
  gridSnapshot,
  type Home,
  openHome,
  T0,
  testKeyring,
} from './home.js';

const key = (): KeyObject => generateKeyPairSync('ed25519').privateKey;

describe('trading host: restarts and failed transactions', () => {
  let dir: string;
  let clock: Clock;
  let seller: Home;
  let buyer: Home;
  const open: Home[] = [];
  const keys = { seller: key(), buyer: key() };
  const keyring = testKeyring({ seller: keys.seller, buyer: keys.buyer });

  function openSeller(extra: Partial<Parameters<typeof openHome>[0]> = {}): Home {
    const h = openHome({
      id: 'seller',
      path: join(dir, 'seller.db'),
      key: keys.seller,
      keyring,
      clock,
      ...extra,
    });
    open.push(h);
    return h;
  }

  /** Closes a home's store as a kill after its last commit would leave it, and starts a new host on it. */
  function restartSeller(extra: Partial<Parameters<typeof openHome>[0]> = {}): Home {
    seller.store.close();
    seller = openSeller(extra);
    seller.host.start();
    return seller;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'powerdeal-trading-'));
    clock = { now: T0 };
    seller = openSeller();
    buyer = openHome({ id: 'buyer', path: join(dir, 'buyer.db'), key: keys.buyer, keyring, clock });
    open.push(buyer);
    seller.host.start();
    buyer.host.start();
  });
  afterEach(() => {
    for (const h of open.splice(0)) h.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function deliver(to: Home, row: OutboxRow) {
    return to.inbox.handle(row.topic, row.payload);
  }

  /** Seller offers, the buyer learns it and sends an accept; returns the accept row (not yet delivered). */
  function offerAndAccept(): OutboxRow {
    seller.host.tick(gridSnapshot(clock, -3000));
    const [offer] = drain(seller.store, clock.now);
    clock.now += 1000;
    expect(deliver(buyer, offer!).kind).toBe('accepted');
    buyer.host.tick(gridSnapshot(clock, 2000));
    const [accept] = drain(buyer.store, clock.now);
    expect(accept!.class).toBe('accept');
    clock.now += 1000;
    return accept!;
  }

  const storedJson = (h: Home) =>
    (h.store.db.prepare('SELECT json FROM engine_state WHERE id = 1').get() as { json: string } | undefined)
      ?.json;
  const tradeRows = (h: Home) =>
    h.store.outbox.list({ class: 'trade' }).map((row) => ({ row, env: decoded(row) as Envelope<TradeBody> }));

  it('keeps state, id counter, stored answers and outbox across a restart; a replayed accept gets the same trade', () => {
    const accept = offerAndAccept();
    expect(deliver(seller, accept).kind).toBe('accepted');
    const answered = tradeRows(seller);
    expect(answered).toHaveLength(2); // the buyer's inbox and the seller's trades topic
    const body = answered[0]!.env.body;
    const views = { deals: deals(seller.host.state), offers: ownOffers(seller.host.state) };
    const totalsBefore = totals(seller.host.state);
    const durableBefore = JSON.parse(storedJson(seller)!) as unknown;

    restartSeller();
    expect(seller.host.stats().restoreFailures).toBe(0);
    expect(deals(seller.host.state)).toEqual(views.deals);
    expect(ownOffers(seller.host.state)).toEqual(views.offers);
    expect(totals(seller.host.state)).toEqual(totalsBefore);
    // The whole durable state comes back, the id counter included (ids are made from it: none repeats).
    expect(seller.host.state.durable).toEqual(durableBefore);
    // The unsent answers are still in the outbox, byte for byte.
    expect(tradeRows(seller).map((t) => t.row.payload)).toEqual(answered.map((t) => t.row.payload));

    // The buyer hears nothing and re-sends the accept (same acceptId, a new envelope).
    clock.now += 31_000;
    buyer.host.tick(gridSnapshot(clock, 2000));
    const [again] = drain(buyer.store, clock.now);
    const againEnv = decoded(again!);
    expect(againEnv.id).not.toBe(decoded(accept).id);
    expect(againEnv.body).toEqual(decoded(accept).body);
    expect(deliver(seller, again!).kind).toBe('accepted');
    const after = tradeRows(seller);
    const resent = after.slice(answered.length);
    expect(resent.length).toBeGreaterThanOrEqual(1);
    for (const t of resent) {
      expect(t.env.body).toEqual(body);
      expect(answered.map((a) => a.env.id)).not.toContain(t.env.id);
    }
    expect(resent.find((t) => t.row.topic.endsWith('/buyer/inbox'))?.env.corr).toBe(againEnv.id);
    // Nothing was sold twice.
    expect(ownOffers(seller.host.state)[0]!.availableWh).toBe(views.offers[0]!.availableWh);
    expect(totals(seller.host.state).trades.seller).toBe(1);
    expect(deals(seller.host.state).filter((d) => d.role === 'seller')).toHaveLength(1);
  });

  it('a buyer writes nothing for an offer, and after a restart relearns it from the retained offer delivered again', () => {
    seller.host.tick(gridSnapshot(clock, -3000));
    const [offer] = drain(seller.store, clock.now);
    expect(offer!.class).toBe('offer');
    clock.now += 1000;
    buyer.host.tick(gridSnapshot(clock, 0)); // no need yet: nothing to ask
    const changes = () => (buyer.store.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    const before = { changes: changes(), json: storedJson(buyer), writes: buyer.host.stats().stateWrites };
    for (let i = 0; i < 2; i++) expect(deliver(buyer, offer!).kind).toBe('accepted');
    expect(changes()).toBe(before.changes);
    expect(storedJson(buyer)).toBe(before.json);
    expect(buyer.host.stats().stateWrites).toEqual(before.writes);
    expect(buyer.store.deadLetters.count()).toBe(0);

    // Killed and restarted: the stored state has no neighbour offer, so there is nothing to ask.
    buyer.store.close();
    buyer = openHome({ id: 'buyer', path: join(dir, 'buyer.db'), key: keys.buyer, keyring, clock });
    open.push(buyer);
    buyer.host.start();
    clock.now += 1000;
    buyer.host.tick(gridSnapshot(clock, 2000));
    expect(buyer.store.outbox.list({ class: 'accept' })).toEqual([]);
    // The broker delivers the retained offer again on subscribe: the same envelope, taken again.
    expect(deliver(buyer, offer!).kind).toBe('accepted');
    clock.now += 1000;
    buyer.host.tick(gridSnapshot(clock, 2000));
    const accepts = buyer.store.outbox.list({ class: 'accept' }).map((row) => decoded(row));
    expect(accepts).toHaveLength(1);
    expect(accepts[0]!.body).toMatchObject({ seller: 'seller', version: decoded(offer!).body.version });
  });

  it('a tick whose transaction throws leaves the stored and in-memory state as they were', () => {
    const { log, lines } = captureLog();
    restartSeller({ log });
    const state = seller.host.state;
    const json = storedJson(seller);
    const spy = vi.spyOn(seller.store.outbox, 'enqueue').mockImplementation(() => {
      throw new Error('disk full');
    });
    expect(() => seller.host.tick(gridSnapshot(clock, -3000))).not.toThrow();
    expect(spy).toHaveBeenCalled();
    expect(seller.host.state).toBe(state);
    expect(storedJson(seller)).toBe(json);
    expect(seller.store.outbox.list()).toEqual([]);
    expect(seller.notified).toBe(0);
    expect(seller.host.stats()).toMatchObject({ failures: 1, lastError: 'tick: disk full' });
    expect(lines.some((l) => l.level === 'error' && String(l.msg).includes('step lost'))).toBe(true);

    spy.mockRestore();
    clock.now += 1000;
    seller.host.tick(gridSnapshot(clock, -3000));
    expect(seller.store.outbox.list({ class: 'offer' })).toHaveLength(1);
    expect(storedJson(seller)).not.toBe(json);
    expect(seller.host.stats().failures).toBe(1);
  });

  it('a message whose step throws is rolled back with its dedupe mark and can be delivered again', () => {
    const accept = offerAndAccept();
    const state = seller.host.state;
    const json = storedJson(seller);
    const spy = vi.spyOn(seller.store.outbox, 'enqueue').mockImplementation(() => {
      throw new Error('I/O error');
    });
    expect(deliver(seller, accept)).toMatchObject({ kind: 'rejected', reason: 'handler-error' });
    spy.mockRestore();
    expect(seller.host.state).toBe(state);
    expect(storedJson(seller)).toBe(json);
    expect(seller.store.db.prepare('SELECT count(*) AS n FROM trades').get()).toEqual({ n: 0 });
    expect(tradeRows(seller)).toEqual([]);

    expect(deliver(seller, accept).kind).toBe('accepted');
    expect(tradeRows(seller)).toHaveLength(2);
    expect(totals(seller.host.state).trades.seller).toBe(1);
  });

  it('follows the enclosing transaction: its rollback reverts the state, its commit releases notify', async () => {
    const accept = offerAndAccept();
    const state = seller.host.state;
    const json = storedJson(seller);
    const notified = seller.notified;
    expect(() =>
      seller.store.transaction(() => {
        seller.host.message(decoded(accept));
        throw new Error('commit refused');
      }),
    ).toThrow('commit refused');
    await Promise.resolve();
    expect(seller.host.state).toBe(state);
    expect(storedJson(seller)).toBe(json);
    expect(seller.notified).toBe(notified);
    expect(seller.host.stats().lastError).toMatch(/rolled back/);

    // The same without waiting: the next step finds the rollback before it starts.
    expect(() =>
      seller.store.transaction(() => {
        seller.host.message(decoded(accept));
        throw new Error('commit refused');
      }),
    ).toThrow();
    expect(deliver(seller, accept).kind).toBe('accepted');
    expect(seller.notified).toBe(notified); // the link is woken only once the inbox committed
    await Promise.resolve();
    expect(seller.notified).toBe(notified + 1);
    expect(tradeRows(seller)).toHaveLength(2);
    expect(totals(seller.host.state).trades.seller).toBe(1);
    expect(ownOffers(seller.host.state)[0]!.availableWh).toBe(ownOffers(state)[0]!.availableWh - 500);
  });

  it.each([
    ['not JSON', '{"v":1,'],
    ['not a state', '{"v":99,"counter":"x"}'],
  ])('starts from the initial state when the stored one is %s, keeping the bad copy once', (_what, bad) => {
    seller.host.tick(gridSnapshot(clock, -3000));
    expect(ownOffers(seller.host.state)).toHaveLength(1);
    seller.store.db.prepare('UPDATE engine_state SET json = ? WHERE id = 1').run(bad);
    const { log, lines } = captureLog();
    clock.now += 1000;
    expect(() => restartSeller({ log })).not.toThrow();
    expect(seller.host.stats().restoreFailures).toBe(1);
    expect(ownOffers(seller.host.state)).toEqual([]);
    expect(lines.some((l) => l.level === 'error' && String(l.msg).includes('cannot be restored'))).toBe(true);
    const kept = seller.store.db
      .prepare("SELECT key, value FROM meta WHERE key LIKE 'engine_state.unrestorable.%'")
      .all();
    expect(kept).toEqual([{ key: `${UNRESTORABLE_STATE_KEY}${clock.now}`, value: bad }]);
    expect(() => JSON.parse(storedJson(seller)!)).not.toThrow();

    // The replaced row restores; the bad copy is not taken again.
    clock.now += 1000;
    restartSeller();
    expect(seller.host.stats().restoreFailures).toBe(0);
    expect(
      seller.store.db.prepare("SELECT count(*) AS n FROM meta WHERE key LIKE 'engine_state.%'").get(),
    ).toEqual({
      n: 1,
    });
    seller.host.tick(gridSnapshot(clock, -3000));
    expect(ownOffers(seller.host.state)).toHaveLength(1);
  });
});
