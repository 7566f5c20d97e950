import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deals, ownOffers, totals } from '../../src/engine/views.js';
import type { Envelope } from '../../src/protocol/envelope.js';
import { writePrivateKey } from '../../src/protocol/keyring.js';
import type { AcceptBody, TradeBody } from '../../src/protocol/trading.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';
import { scale, timeoutFor } from '../helpers/long.js';
import { waitFor } from '../helpers/ports.js';
import { decoded, gridSnapshot, type Home, openHome, SLOT_MS, T0, testKeyring } from './home.js';

const SCRIPT = new URL('./fixtures/seller-answer.ts', import.meta.url).pathname;
const KILLS = scale(4, 40);
const NEXT_SLOT = Math.floor(T0 / SLOT_MS) * SLOT_MS + SLOT_MS;

interface Child {
  proc: ChildProcess;
  out: string;
  err: string;
  exited: Promise<void>;
}

describe('a seller killed with SIGKILL between an accept and its answer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-trading-kill-'));
  const db = join(dir, 'seller.db');
  const keys = {
    seller: generateKeyPairSync('ed25519').privateKey,
    buyer: generateKeyPairSync('ed25519').privateKey,
  };
  const keyring = testKeyring(keys);
  const clock = { now: T0 };
  let running: Child | undefined;
  let accept: AcceptBody;
  let offeredWh: number;

  function spawnSeller(mode: string): Child {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', SCRIPT, db, dir, JSON.stringify(accept), String(clock.now), mode],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const child: Child = { proc, out: '', err: '', exited: new Promise((r) => proc.once('exit', () => r())) };
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      child.out += d;
    });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      child.err += d;
    });
    running = child;
    return child;
  }

  async function kill(child: Child): Promise<void> {
    child.proc.kill('SIGKILL');
    await child.exited;
    expect(child.proc.signalCode, child.err).toBe('SIGKILL');
  }

  /** Opens the seller's store in this process (after the child is dead), inspects it, closes it. */
  function inspect<T>(fn: (h: Home) => T): T {
    const h = openHome({ id: 'seller', path: db, key: keys.seller, keyring, clock });
    try {
      h.host.start();
      return fn(h);
    } finally {
      h.store.close();
    }
  }

  /** The trade answers in the outbox (the buyer's inbox copies) and the seller's deals. */
  function answers(h: Home) {
    const rows = h.store.outbox
      .list({ class: 'trade', limit: 10_000 })
      .map((r) => ({ topic: r.topic, env: decoded(r) as Envelope<TradeBody> }));
    return {
      inbox: rows.filter((r) => r.topic.endsWith('/buyer/inbox')).map((r) => r.env.body),
      copies: rows.filter((r) => r.topic.endsWith('/seller/trades')).map((r) => r.env.body),
      sales: deals(h.host.state).filter((d) => d.role === 'seller'),
      availableWh: ownOffers(h.host.state)[0]?.availableWh,
      trades: totals(h.host.state).trades.seller,
    };
  }

  beforeAll(() => {
    writePrivateKey(join(dir, 'seller.key'), keys.seller);
    writePrivateKey(join(dir, 'buyer.key'), keys.buyer);
    // The seller has an open offer for the next slot.
    inspect((h) => {
      h.host.tick(gridSnapshot(clock, -3000));
      const offer = ownOffers(h.host.state)[0]!;
      expect(offer).toMatchObject({ slot: NEXT_SLOT, version: 1, status: 'open' });
      offeredWh = offer.availableWh;
    });
    clock.now += 2000;
    accept = {
      acceptId: uuidv7(clock.now),
      seller: 'seller',
      slot: NEXT_SLOT,
      version: 1,
      energyWh: 500,
      minWh: 20,
      maxPriceCentsPerKwh: 20,
    };
  });
  afterEach(async () => {
    if (running && running.proc.exitCode === null && running.proc.signalCode === null) {
      running.proc.kill('SIGKILL');
      await running.exited;
    }
    running = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('killed before the commit: no answer and no sale survive', async () => {
    const child = spawnSeller('before-commit');
    await waitFor(() => child.out.includes('in-transaction'), 30_000, `in-transaction (${child.err})`);
    await kill(child);
    const a = inspect(answers);
    expect(a).toMatchObject({ inbox: [], copies: [], sales: [], availableWh: offeredWh, trades: 0 });
  });

  it('killed after the commit: exactly the one answer survives', async () => {
    const child = spawnSeller('after-commit');
    await waitFor(() => child.out.includes('committed'), 30_000, `committed (${child.err})`);
    await kill(child);
    const a = inspect(answers);
    expect(a.inbox).toHaveLength(1);
    expect(a.copies).toEqual(a.inbox);
    expect(a.inbox[0]).toMatchObject({ acceptId: accept.acceptId, energyWh: 500, buyer: 'buyer' });
    expect(a.sales).toHaveLength(1);
    expect(a.availableWh).toBe(offeredWh - 500);
    expect(a.trades).toBe(1);
  });

  it(
    `killed at random while answering retransmissions (${KILLS} kills): never two different answers`,
    async () => {
      let answered = 0;
      for (let k = 0; k < KILLS; k++) {
        const child = spawnSeller('loop');
        await waitFor(() => child.out.includes('ready'), 30_000, `ready (${child.err})`);
        await new Promise((r) => setTimeout(r, Math.random() * 200));
        await kill(child);
        answered += (child.out.match(/answered/g) ?? []).length;
      }
      const a = inspect(answers);
      // Every answer committed before a kill is in the outbox, and they are all the same trade.
      expect(a.inbox.length).toBeGreaterThanOrEqual(1 + answered);
      for (const body of [...a.inbox, ...a.copies]) expect(body).toEqual(a.inbox[0]);
      expect(a.sales).toHaveLength(1);
      expect(a.sales[0]!.tradeId).toBe(a.inbox[0]!.tradeId);
      expect(a.availableWh).toBe(offeredWh - 500);
      expect(a.trades).toBe(1);
    },
    timeoutFor(60_000, 900_000),
  );
});
