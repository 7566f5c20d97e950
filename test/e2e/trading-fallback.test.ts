import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TelemetryBody } from '../../src/protocol/bodies.js';
import type { TradeBody } from '../../src/protocol/trading.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { freePort, waitFor } from '../helpers/ports.js';
import {
  isBinding,
  type LinkView,
  linkOf,
  type Neighbourhood,
  readTrades,
  recordWire,
  startHome,
  stopHome,
  type TradingHome,
  type Wire,
  waitForWire,
  writeNeighbourhood,
} from '../helpers/trading.js';
import { type Receiver, startReceiver } from '../link/helpers.js';

/**
 * Trading with no broker, with real parts: four `powerdeal run` processes (simulated Modbus devices, one
 * seller with surplus, three buyers with a water heater on a relay, one keyring with loopback fallback
 * endpoints) and a real mosquitto upstream. Mosquitto stops: the zone elects home-2 and trades through
 * it; home-2 is SIGKILLed: home-3 takes over; mosquitto returns: every home goes back, and an
 * independent subscriber on mosquitto gets every telemetry message of the outage and every trade of it.
 */
const ZONE = 'e2e-fallback';
const SELLER = 'sunny-1';
const BUYERS = ['home-2', 'home-3', 'home-4'] as const;
const AFTER_S = 3;
const TELEMETRY_MS = 3000;
const SLOT_MS = 60_000;

async function loadsOn(h: TradingHome): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${h.webPort}/api/status`);
  return ((await res.json()) as { trading: { loadsOn: string[] } }).trading.loadsOn;
}

/** The telemetry ids waiting in a home's outbox (not yet acknowledged upstream). */
function waitingTelemetry(h: TradingHome): string[] {
  const db = new Database(h.dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db.prepare("SELECT msg_id FROM outbox WHERE class = 'telemetry'").all() as {
      msg_id: string;
    }[];
    return rows.map((r) => r.msg_id);
  } finally {
    db.close();
  }
}

describe('trading with no broker (four powerdeal run processes, mosquitto)', () => {
  const root = mkdtempSync(join(tmpdir(), 'pd-e2e-fallback-'));
  const sims: Simulator[] = [];
  let broker: Mosquitto;
  let hood: Neighbourhood;
  let wire: Wire;
  let telemetry: Receiver;

  beforeAll(async () => {
    broker = await startMosquitto({ persistence: true });
    const sim = async (pvPowerW: number, loadPowerW: number, seed: number) => {
      const s = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 }, seed });
      s.pin({ pvPowerW, loadPowerW });
      sims.push(s);
      return s.tcpPort as number;
    };
    const spec = async (id: string, pvW: number, loadW: number, seed: number, heater: boolean) => {
      const modbusPort = await sim(pvW, loadW, seed);
      const tcp = `127.0.0.1:${modbusPort}`;
      const fallbackPort = await freePort();
      return {
        id,
        modbusPort,
        fallback: `127.0.0.1:${fallbackPort}`,
        config: {
          mqtt: {
            telemetryIntervalMs: TELEMETRY_MS,
            reconnectBaseMs: 500,
            reconnectMaxMs: 3000,
            ackTimeoutMs: 3000,
            keepaliveS: 5,
          },
          fallback: { afterS: AFTER_S, listen: `127.0.0.1:${fallbackPort}` },
          // Every telemetry row in the outbox table at once: the test reads what waits there.
          store: {
            path: join(root, id, 'powerdeal.db'),
            diskReserveMb: 0,
            backupKeep: 0,
            telemetryStageMs: 0,
          },
          devices: [
            { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp, unitId: 1, timeoutMs: 500 } },
            { id: 'grid-meter', profile: 'sdm630', modbus: { tcp, unitId: 2, timeoutMs: 500 } },
            ...(heater
              ? [
                  {
                    id: 'water-heater',
                    profile: 'relay',
                    gpio: { line: 17, activeLow: true },
                    load: { powerW: 2000, minOnS: 10, minOffS: 10 },
                  },
                ]
              : []),
          ],
        },
      };
    };
    hood = await writeNeighbourhood(root, ZONE, broker.url, [
      await spec(SELLER, 3400, 200, 11, false),
      ...(await Promise.all(BUYERS.map((id, i) => spec(id, 0, 1500, 12 + i, true)))),
    ]);
    wire = await recordWire(broker.url, hood.keyring);
    telemetry = await startReceiver(broker.url, 'pd-e2e-backend', {
      filter: `powerdeal/v1/${ZONE}/+/telemetry`,
    });
    for (const h of hood.homes) startHome(h);
  }, 60_000);

  afterAll(async () => {
    await Promise.all((hood?.homes ?? []).map((h) => stopHome(h)));
    await wire?.stop();
    await telemetry?.close();
    await Promise.all(sims.map((s) => s.stop()));
    await stopAllMosquittos();
    rmSync(root, { recursive: true, force: true });
  });

  const modes = async (homes: readonly TradingHome[]) => Promise.all(homes.map((h) => linkOf(h)));
  /**
   * The seller's binding trades confirmed after `since`: a trade is confirmed within the slot before its
   * own (one-minute slots), so a slot starting a slot length after `since` was confirmed after it.
   */
  const trades = (since: number) =>
    readTrades(hood.home(SELLER).dbPath).filter(
      (t) => isBinding(t) && t.role === 'seller' && t.slot >= since + SLOT_MS,
    );

  it('elects a leader, trades through it, survives its SIGKILL, and returns with nothing missing', async () => {
    const all = hood.homes;
    await waitForWire(
      'every home upstream',
      async () => (await modes(all)).every((l) => l?.mode === 'upstream'),
      90_000,
      all,
    );

    // ---- the broker goes ------------------------------------------------------------------------
    const outageAt = Date.now();
    await broker.stop();
    const views = (await waitForWire(
      `all four in fallback behind home-2 within afterS + 10 s`,
      async () => {
        const v = await modes(all);
        return v.every((l) => l?.mode.startsWith('fallback') && l.leader === 'home-2') ? v : undefined;
      },
      (AFTER_S + 10) * 1000,
      all,
    )) as (LinkView | null)[];
    expect(views.map((v) => v?.mode)).toEqual([
      'fallback-member',
      'fallback-leader',
      'fallback-member',
      'fallback-member',
    ]);
    const firstEpoch = views[1]!.epoch!;

    // A trade made, and its load switched, while no upstream broker exists.
    const first = await waitForWire(
      'a trade made during the outage',
      () => trades(outageAt)[0],
      150_000,
      all,
    );
    const firstTradeSeenAt = Date.now();
    const buyer = hood.home(first.counterparty);
    await waitForWire(
      `${buyer.id}'s water heater on for the bought energy`,
      async () => (await loadsOn(buyer)).includes('water-heater'),
      90_000,
      all,
    );

    // ---- the leader dies ------------------------------------------------------------------------
    const leader = hood.home('home-2');
    const dead = leader.run!;
    leader.run = null;
    dead.kill('SIGKILL');
    expect(await dead.exited).toBe('SIGKILL');
    const killedAt = Date.now();
    const rest = all.filter((h) => h !== leader);
    const after = (await waitForWire(
      'home-3 elected within 15 s',
      async () => {
        const v = await modes(rest);
        return v.every((l) => l?.leader === 'home-3') ? v : undefined;
      },
      15_000,
      all,
    )) as (LinkView | null)[];
    const electedAt = Date.now();
    expect(after.map((v) => v?.mode)).toEqual(['fallback-member', 'fallback-leader', 'fallback-member']);
    expect(after[1]!.epoch).toBeGreaterThan(firstEpoch);
    const second = await waitForWire(
      'a trade after the new election',
      () => trades(killedAt)[0],
      150_000,
      all,
    );
    expect(second.id).not.toBe(first.id);

    // ---- the broker returns ---------------------------------------------------------------------
    const waiting = [...rest, leader].flatMap((h) => waitingTelemetry(h));
    expect(waiting.length).toBeGreaterThan(0);
    const outageTrades = trades(outageAt).map((t) => t.id);
    await broker.start();
    const returnAt = Date.now();
    startHome(leader);
    await waitForWire(
      'every home upstream within 30 s',
      async () => (await modes(all)).every((l) => l?.mode === 'upstream'),
      30_000,
      all,
    );

    const missing = () => waiting.filter((id) => !telemetry.seen.has(id));
    await waitFor(() => missing().length === 0, 60_000, 'every telemetry message of the outage').catch(
      () => {},
    );
    // Contiguous telemetry windows of the homes that ran all along: nothing between two is missing.
    const windows = new Map<string, number[]>();
    for (const m of wire.messages) {
      if (m.kind !== 'telemetry' || !m.env || m.home === 'home-2') continue;
      const from = (m.env.body as TelemetryBody).from;
      if (from < outageAt || from > returnAt) continue;
      windows.set(m.home, [...(windows.get(m.home) ?? []), from]);
    }
    const gaps = [...windows].flatMap(([home, froms]) => {
      const sorted = [...new Set(froms)].sort((a, b) => a - b);
      return sorted
        .slice(1)
        .flatMap((f, i) => (f - sorted[i]! > TELEMETRY_MS ? [`${home}@${sorted[i]}`] : []));
    });
    const tradeIds = new Set(
      wire.messages
        .filter((m) => m.kind === 'trades' && m.env?.type === 'trade')
        .map((m) => (m.env!.body as TradeBody).tradeId),
    );
    await waitFor(
      () => outageTrades.every((id) => tradeIds.has(id)),
      30_000,
      'every outage trade upstream',
    ).catch(() => {});
    const report = {
      figure: 'fallback-e2e',
      // Polled through the homes' status pages: upper bounds, on a shared machine.
      brokerLossToFirstTradeSeenMs: firstTradeSeenAt - outageAt,
      leaderKillToNewLeaderMs: electedAt - killedAt,
      telemetryOfOutage: waiting.length,
      telemetryMissing: missing().length,
      windowGaps: gaps.length,
      outageTrades: outageTrades.length,
      outageTradesMissingUpstream: outageTrades.filter((id) => !tradeIds.has(id)).length,
    };
    console.log(JSON.stringify(report));
    expect(report).toMatchObject({ telemetryMissing: 0, windowGaps: 0, outageTradesMissingUpstream: 0 });
    expect(report.outageTrades).toBeGreaterThanOrEqual(2);
  }, 600_000);
});
