import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AcceptBody, OfferBody } from '../../src/protocol/trading.js';
import {
  type Contest,
  expectAgreement,
  expectContest,
  expectRejectedRow,
  type Neighbourhood,
  type Sent,
  sent,
  startContest,
  startHome,
  type Wire,
  waitForWire,
} from '../helpers/trading.js';

/**
 * The seller dies between the buyers' accepts and its answer. Same neighbourhood as trading.test.ts
 * (an offer of 50 Wh, two buyers needing 70 Wh each): the seller is frozen (SIGSTOP) as soon as its offer
 * is on the broker, both buyers' accepts go out on the wire, then the seller is killed (SIGKILL) and
 * started again on the same database. The accepts reach it again (its persistent session or the buyers'
 * re-sends): the offer is still sold exactly once, the loser gets its reject, the winner its trade.
 */
const ZONE = 'e2e-crash';
const SELLER = 'sunny-1';
const BUYERS = ['home-2', 'home-3'] as const;
/** A restart takes seconds on a busy machine: the offer must leave that much before its gate closure. */
const LEAD_MS = 40_000;

describe('the seller killed between accept and answer (three powerdeal run processes, mosquitto)', () => {
  let contest: Contest | undefined;
  let hood: Neighbourhood;
  let wire: Wire;

  beforeAll(async () => {
    contest = await startContest(ZONE, SELLER, BUYERS, 4);
    ({ hood, wire } = contest);
  });

  afterAll(async () => {
    await contest?.stop();
  });

  it('still sells the offer exactly once after a restart; nothing is lost', async () => {
    const seller = hood.home(SELLER);
    let frozen: Sent<OfferBody> | undefined;
    // Frozen in the recorder's own callback: before either buyer's accept can reach the seller.
    wire.onMessage((m) => {
      if (frozen || m.env?.type !== 'offer' || m.env.from !== SELLER) return;
      const body = m.env.body as OfferBody;
      if (body.slot - m.wall < LEAD_MS || body.availableWh !== body.energyWh) return;
      seller.run?.kill('SIGSTOP');
      frozen = { m, env: m.env as Sent<OfferBody>['env'], body };
    });
    const offer = await waitForWire(
      `an offer at least ${LEAD_MS / 1000} s before its slot`,
      () => frozen,
      150_000,
      hood.homes,
    );
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
      10_000,
      hood.homes,
    );

    const dead = seller.run;
    const killedAt = performance.now();
    dead?.kill('SIGKILL');
    expect(await dead?.exited).toBe('SIGKILL');
    // Nothing was answered before the crash.
    expect(sent(wire, 'trade').filter((t) => t.body.slot === slot)).toEqual([]);
    expect(sent(wire, 'reject').filter((r) => r.body.slot === slot)).toEqual([]);

    const restarted = startHome(seller);
    expect(restarted.pid).not.toBe(dead?.pid);
    await waitForWire(
      'the answers after the restart: a trade and a reject',
      () =>
        sent(wire, 'trade').some((t) => t.body.slot === slot) &&
        sent(wire, 'reject').some((r) => r.body.slot === slot),
      LEAD_MS,
      hood.homes,
    );
    const answeredAt = Math.min(
      ...sent(wire, 'trade')
        .filter((t) => t.body.slot === slot)
        .map((t) => t.m.at),
    );
    await waitForWire('the gate closure', () => Date.now() > slot + 3000, 70_000, hood.homes);

    const { loser } = expectContest(wire, hood, SELLER, slot, accepts);
    expectRejectedRow(hood, loser, accepts.get(loser)?.body.acceptId as string);
    await expectAgreement(wire, hood, SELLER, slot);
    // How the accepts came back: re-sent (same acceptId, new envelope) or redelivered by the broker.
    const copies = [...accepts.values()].map(
      (a) => sent(wire, 'accept').filter((x) => x.body.acceptId === a.body.acceptId).length,
    );
    console.log(
      JSON.stringify({
        figure: 'seller-kill-to-trade-ms',
        value: Math.round(answeredAt - killedAt),
        acceptCopiesOnWire: copies,
      }),
    );
    expect(restarted.child.exitCode).toBeNull();
  }, 240_000);
});
