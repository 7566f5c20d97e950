import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import {
  type BridgeWatch,
  disposeAllMosquittoBridges,
  type MosquittoBridgePair,
  startMosquittoBridgePair,
  watchBridge,
} from '../helpers/mosquitto-bridge.js';
import {
  expectAgreement,
  type Neighbourhood,
  recordWire,
  sent,
  startHome,
  stopHome,
  type Wire,
  type WireMessage,
  waitForWire,
  writeNeighbourhood,
} from '../helpers/trading.js';

/**
 * Two `powerdeal run` processes on the two ends of a mosquitto bridge pair (`powerdeal/# both 1`,
 * `cleansession false`, `try_private true`): the seller on A, the buyer on B, one recorder on each
 * broker. They trade across the bridge; then the bridge is cut for 30 s while both homes keep running,
 * and afterwards every envelope one side published has reached the other side, and trading goes on.
 */
const ZONE = 'bridge';
const SELLER = 'sunny-1';
const BUYER = 'home-2';
const CUT_MS = 30_000;

/** Envelope ids of `from` on the wire, with how many copies arrived. */
function copiesFrom(wire: Wire, from: string, where?: (m: WireMessage) => boolean): Map<string, number> {
  const ids = new Map<string, number>();
  for (const m of wire.messages) {
    if (m.env?.from !== from || (where && !where(m))) continue;
    ids.set(m.env.id, (ids.get(m.env.id) ?? 0) + 1);
  }
  return ids;
}

describe('trading across a mosquitto bridge pair (two powerdeal run processes)', () => {
  let pair: MosquittoBridgePair;
  let watch: BridgeWatch;
  let hood: Neighbourhood;
  let wireA: Wire;
  let wireB: Wire;
  const sims: Simulator[] = [];
  const root = mkdtempSync(join(tmpdir(), 'pd-bridge-e2e-'));

  beforeAll(async () => {
    pair = await startMosquittoBridgePair({ name: `pd-e2e-${process.pid}` });
    watch = await watchBridge(pair);
    await watch.until(true);
    const sim = async (pvPowerW: number, loadPowerW: number, seed: number) => {
      const s = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 }, seed });
      s.pin({ pvPowerW, loadPowerW });
      sims.push(s);
      return s.tcpPort as number;
    };
    hood = await writeNeighbourhood(root, ZONE, pair.a.url, [
      { id: SELLER, modbusPort: await sim(3400, 200, 1), brokers: [pair.a.url] },
      { id: BUYER, modbusPort: await sim(0, 4200, 2), brokers: [pair.b.url] },
    ]);
    wireA = await recordWire(pair.a.url, hood.keyring);
    wireB = await recordWire(pair.b.url, hood.keyring);
  }, 60_000);

  afterAll(async () => {
    await Promise.all((hood?.homes ?? []).map((h) => stopHome(h)));
    await Promise.all([wireA?.stop(), wireB?.stop(), watch?.close()]);
    await Promise.all(sims.map((s) => s.stop()));
    await disposeAllMosquittoBridges();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('trades across the bridge, and after a 30 s cut every message crosses and trading goes on', async () => {
    for (const h of hood.homes) startHome(h);
    const first = await waitForWire(
      'a trade between the two ends',
      () => sent(wireB, 'trade').find((t) => t.env.from === SELLER && t.body.buyer === BUYER),
      150_000,
      hood.homes,
    );
    // The buyer's acknowledgement came back over the bridge: the chain crossed both ways.
    await waitForWire(
      'the buyer ack on A',
      () => sent(wireA, 'ack').some((a) => a.env.from === BUYER && a.body.tradeId === first.body.tradeId),
      30_000,
      hood.homes,
    );

    pair.proxy.cut();
    await watch.until(false);
    const cutAt = Date.now();
    await new Promise((r) => setTimeout(r, CUT_MS));
    const duringCut = (m: WireMessage) => m.wall >= cutAt && m.wall <= cutAt + CUT_MS;
    // Both homes went on publishing on their own broker while the bridge was down.
    const sellerDuring = copiesFrom(wireA, SELLER, duringCut);
    const buyerDuring = copiesFrom(wireB, BUYER, duringCut);
    expect(sellerDuring.size).toBeGreaterThan(0);
    expect(buyerDuring.size).toBeGreaterThan(0);
    // Nothing crossed meanwhile.
    expect([...copiesFrom(wireB, SELLER, duringCut).keys()].filter((id) => sellerDuring.has(id))).toEqual([]);
    pair.proxy.restore();
    const restoredAt = Date.now();
    // mosquitto spaces its bridge's attempts out while the far side refuses (6–10 s apart here).
    await watch.until(true, 60_000);
    const bridgeUpMs = Date.now() - restoredAt;

    // Every envelope either home published so far reaches the far broker: nothing missing.
    const crossed = await waitForWire(
      'every envelope on both brokers',
      () => {
        const fromA = copiesFrom(wireA, SELLER);
        const onB = copiesFrom(wireB, SELLER);
        const fromB = copiesFrom(wireB, BUYER);
        const onA = copiesFrom(wireA, BUYER);
        const missing = [...fromA.keys()].filter((id) => !onB.has(id)).length;
        const back = [...fromB.keys()].filter((id) => !onA.has(id)).length;
        return missing === 0 && back === 0 ? { onA, onB } : undefined;
      },
      30_000,
      hood.homes,
    );
    const crossedAt = Date.now();
    // Copies the bridge added (more on the far broker than on the near one): only where QoS 1 allows, a
    // message in flight when the bridge was cut. The homes take each once (the inbox dedupes on sender
    // and id; the agreement below).
    const added = (far: Map<string, number>, near: Map<string, number>) =>
      [...far].reduce((n, [id, c]) => n + Math.max(0, c - (near.get(id) ?? 0)), 0);
    const dupes = {
      toB: added(crossed.onB, copiesFrom(wireA, SELLER)),
      toA: added(crossed.onA, copiesFrom(wireB, BUYER)),
    };
    expect(dupes.toB).toBeLessThanOrEqual(5);
    expect(dupes.toA).toBeLessThanOrEqual(5);

    const after = await waitForWire(
      'a trade for a later slot, confirmed after the cut',
      () =>
        sent(wireB, 'trade').find(
          (t) =>
            t.env.from === SELLER &&
            t.body.buyer === BUYER &&
            t.body.slot > first.body.slot &&
            t.m.wall > restoredAt,
        ),
      150_000,
      hood.homes,
    );
    for (const w of [wireA, wireB]) {
      expect(w.messages.filter((m) => m.refused !== null).map((m) => `${m.topic}: ${m.refused}`)).toEqual([]);
    }
    const sold = await expectAgreement(wireA, hood, SELLER, after.body.slot);
    expect(sold).toBeGreaterThanOrEqual(2);
    console.info(
      JSON.stringify({
        figure: 'bridge-cut-30s',
        publishedDuringCut: { seller: sellerDuring.size, buyer: buyerDuring.size },
        bridgeUpMsAfterRestore: bridgeUpMs,
        crossedMsAfterRestore: crossedAt - restoredAt,
        duplicateCopies: dupes,
        tradeAfterRestoreMs: after.m.wall - restoredAt,
        tradesSold: sold,
      }),
    );
  }, 420_000);
});
