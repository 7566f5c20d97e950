import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { startMosquitto, stopAllMosquittos } from '../../test/helpers/mosquitto.js';
import { freePort, waitFor } from '../../test/helpers/ports.js';
import {
  isBinding,
  linkOf,
  readTrades,
  startHome,
  stopHome,
  type TradingHome,
  writeNeighbourhood,
} from '../../test/helpers/trading.js';
import { mib, sampleProc } from './proc-sample.js';
import { round, sleep } from './util.js';

/**
 * A zone of eleven real `powerdeal run` processes (one seller, ten buyers with a relay) and a real
 * mosquitto upstream. Mosquitto stops: time until every home is in fallback behind one leader, and
 * until the first trade with no upstream broker; the leader's RSS against its members' with the other
 * ten connected to its broker; then the leader is SIGKILLed: time until the rest agree on a new term.
 */
const ZONE = 'bench-fallback';
const SELLER = 'sunny-1';
const BUYERS = Array.from({ length: 10 }, (_, i) => `home-${String(i + 1).padStart(2, '0')}`);
const AFTER_S = 3;
/** TEST_ENGINE's one-minute slots. */
const SLOT_MS = 60_000;
const SAMPLE_S = Number(process.env.BENCH_FALLBACK_SAMPLE_S ?? 30);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchFallbackZone(): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'powerdeal-bench-fallback-zone-'));
  const sims: Simulator[] = [];
  let homes: TradingHome[] = [];
  try {
    const broker = await startMosquitto();
    const spec = async (id: string, pvW: number, loadW: number, seed: number, heater: boolean) => {
      const s = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 }, seed });
      s.pin({ pvPowerW: pvW, loadPowerW: loadW });
      sims.push(s);
      const tcp = `127.0.0.1:${s.tcpPort}`;
      const fallbackPort = await freePort();
      return {
        id,
        modbusPort: s.tcpPort as number,
        fallback: `127.0.0.1:${fallbackPort}`,
        config: {
          mqtt: { reconnectBaseMs: 500, reconnectMaxMs: 3000, ackTimeoutMs: 3000, keepaliveS: 5 },
          fallback: { afterS: AFTER_S, listen: `127.0.0.1:${fallbackPort}` },
          store: { path: join(root, id, 'powerdeal.db'), diskReserveMb: 0, backupKeep: 0 },
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
    const hood = await writeNeighbourhood(root, ZONE, broker.url, [
      await spec(SELLER, 3400, 200, 11, false),
      ...(await Promise.all(BUYERS.map((id, i) => spec(id, 0, 1500, 12 + i, true)))),
    ]);
    homes = [...hood.homes];
    for (const h of homes) startHome(h);
    const views = () => Promise.all(homes.map((h) => linkOf(h)));
    /** Every home in fallback behind one leader of one term: that term. */
    const agreed = async (among: readonly TradingHome[]) => {
      const v = await Promise.all(among.map((h) => linkOf(h)));
      const first = v[0];
      return first?.mode.startsWith('fallback') &&
        v.every((l) => l?.mode.startsWith('fallback') && l.leader === first.leader && l.epoch === first.epoch)
        ? first
        : undefined;
    };
    await waitFor(
      async () => (await views()).every((l) => l?.mode === 'upstream'),
      180_000,
      'all upstream',
      500,
    );

    const lossAt = Date.now();
    await broker.stop();
    const term = await waitFor(() => agreed(homes), 60_000, 'one term', 100);
    const allInFallbackS = (Date.now() - lossAt) / 1000;
    const seller = hood.home(SELLER);
    await waitFor(
      // A trade is confirmed within the slot before its own: a slot a slot length after the loss was
      // confirmed after it.
      () =>
        readTrades(seller.dbPath).some(
          (t) => isBinding(t) && t.role === 'seller' && t.slot >= lossAt + SLOT_MS,
        ),
      180_000,
      'a trade with no upstream broker',
      200,
    );
    const firstTradeS = (Date.now() - lossAt) / 1000;

    // RSS with every other home connected to the leader's broker.
    const leader = hood.home(term.leader!);
    const members = homes.filter((h) => h !== leader);
    const leaderRss: number[] = [];
    const memberRss: number[] = [];
    for (let i = 0; i < SAMPLE_S; i++) {
      leaderRss.push(sampleProc(leader.run!.pid).rssKiB);
      memberRss.push(median(members.map((h) => sampleProc(h.run!.pid).rssKiB)));
      await sleep(1000);
    }

    const killAt = Date.now();
    leader.run!.kill('SIGKILL');
    await leader.run!.exited;
    leader.run = null;
    const next = await waitFor(
      async () => {
        const t = await agreed(members);
        return t && t.leader !== leader.id && (t.epoch ?? 0) > (term.epoch ?? 0) ? t : undefined;
      },
      60_000,
      'a new term',
      100,
    );
    const electionS = (Date.now() - killAt) / 1000;
    homes = members;
    return {
      homes: homes.length + 1,
      afterS: AFTER_S,
      note: 'times are polled upper bounds (100 ms polls of /api/status); RSS is VmRSS of the tsx-run processes, the leader against the median member, sampled once a second',
      brokerLossToAllInFallbackS: round(allInFallbackS),
      brokerLossToFirstFallbackTradeS: round(firstTradeS),
      leader: term.leader,
      leaderRssMiB: mib(median(leaderRss)),
      memberRssMiB: mib(median(memberRss)),
      leaderExtraRssMiB: mib(median(leaderRss) - median(memberRss)),
      leaderExtraRssGoalMiB: 15,
      leaderSigkillToNewTermS: round(electionS),
      newLeader: next.leader,
      epochs: [term.epoch, next.epoch],
    };
  } finally {
    await Promise.all(homes.map((h) => stopHome(h)));
    await Promise.all(sims.map((s) => s.stop()));
    await stopAllMosquittos();
    rmSync(root, { recursive: true, force: true });
  }
}
