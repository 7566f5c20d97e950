import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AcceptBody, OfferBody } from '../../src/protocol/trading.js';
import {
  type Contest,
  expectAgreement,
  expectContest,
  expectRejectedRow,
  firstOffers,
  type Neighbourhood,
  type Sent,
  sent,
  startContest,
  type Wire,
  waitForWire,
} from '../helpers/trading.js';

/**
 * Three real `powerdeal run` processes trade through a real mosquitto in one-minute slots, with their own
 * keys and one keyring. The seller exports 3200 W: (3200 − 200 reserve) W over a minute = 50 Wh offered
 * per slot. Each buyer imports 4200 W and so needs 70 Wh: both want the whole offer.
 *
 * First an ordinary slot, to time an offer's publication to its trade on the wire. Then the contest:
 * which buyer's cycle sees the offer first is a race of cycle phases, and the winner's trade re-publishes
 * the offer as sold out, so the other buyer may never ask. To make both ask, the seller is paused
 * (SIGSTOP, a busy home) from the moment its offer is on the broker until both accepts are on the wire;
 * then it answers both: one trade, one reject.
 */
const ZONE = 'e2e';
const SELLER = 'sunny-1';
const BUYERS = ['home-2', 'home-3'] as const;
/** An offer needs this much time before its gate closure for the buyers to act on it. */
const LEAD_MS = 20_000;

describe('two buyers compete for one offer (three powerdeal run processes, mosquitto)', () => {
  let contest: Contest | undefined;
  let hood: Neighbourhood;
  let wire: Wire;
  let firstSlot = 0;

  beforeAll(async () => {
    contest = await startContest(ZONE, SELLER, BUYERS, 1);
    ({ hood, wire } = contest);
  });

  afterAll(async () => {
    await contest?.stop();
  });

  it('trades an offer on the wire and measures offer to trade', async () => {
    const offer = await waitForWire(
      `an offer from ${SELLER} at least ${LEAD_MS / 1000} s before its slot`,
      () => firstOffers(wire, SELLER).find((o) => o.body.slot - o.m.wall >= LEAD_MS),
      120_000,
      hood.homes,
    );
    firstSlot = offer.body.slot;
    const trade = await waitForWire(
      'a trade for that offer',
      () => sent(wire, 'trade').find((t) => t.env.from === SELLER && t.body.slot === firstSlot),
      LEAD_MS,
      hood.homes,
    );
    console.log(
      JSON.stringify({
        figure: 'offer-to-trade-ms',
        value: Math.round(trade.m.at - offer.m.at),
        offerWh: offer.body.energyWh,
        tradeWh: trade.body.energyWh,
        buyer: trade.body.buyer,
      }),
    );
    expect(offer.body.energyWh).toBe(50);
    expect(BUYERS).toContain(trade.body.buyer);
    expect(trade.body.energyWh).toBeLessThanOrEqual(offer.body.energyWh);
  }, 150_000);

  it('sells the contested offer exactly once; the loser gets a reject; all three agree', async () => {
    const seller = hood.home(SELLER);
    let contested: Sent<OfferBody> | undefined;
    // Paused in the recorder's own callback: before either buyer's accept can reach the seller.
    wire.onMessage((m) => {
      if (contested || m.env?.type !== 'offer' || m.env.from !== SELLER) return;
      const body = m.env.body as OfferBody;
      if (body.slot <= firstSlot || body.slot - m.wall < LEAD_MS || body.availableWh !== body.energyWh)
        return;
      seller.run?.kill('SIGSTOP');
      contested = { m, env: m.env as Sent<OfferBody>['env'], body };
    });
    const offer = await waitForWire('the next offer', () => contested, 120_000, hood.homes);
    const slot = offer.body.slot;
    const accepts = await waitForWire(
      'both buyers accepting the offer',
      () => {
        const by = new Map<string, Sent<AcceptBody>>();
        for (const a of sent(wire, 'accept')) {
          if (a.body.seller === SELLER && a.body.slot === slot && !by.has(a.env.from)) by.set(a.env.from, a);
        }
        return by.size === BUYERS.length ? by : undefined;
      },
      LEAD_MS / 2,
      hood.homes,
    );
    for (const a of accepts.values()) {
      expect(a.body.version).toBe(offer.body.version);
      expect(a.body.energyWh).toBe(offer.body.availableWh);
    }
    seller.run?.kill('SIGCONT');
    await waitForWire(
      'the answers: a trade and a reject',
      () =>
        sent(wire, 'trade').some((t) => t.body.slot === slot) &&
        sent(wire, 'reject').some((r) => r.body.slot === slot),
      LEAD_MS,
      hood.homes,
    );
    // Sold exactly once holds for good only after the gate closure: wait for it.
    await waitForWire('the gate closure', () => Date.now() > slot + 3000, 70_000, hood.homes);
    const { loser } = expectContest(wire, hood, SELLER, slot, accepts);
    expectRejectedRow(hood, loser, accepts.get(loser)?.body.acceptId as string);
    const trades = await expectAgreement(wire, hood, SELLER, slot);
    expect(trades).toBeGreaterThanOrEqual(2);
  }, 200_000);
});
