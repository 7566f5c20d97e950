import { configSchema } from '../config/schema.js';
import { createEngine, deals, ownOffers, totals } from '../engine/index.js';
import type { Engine } from '../engine/types.js';
import { silentLogger } from '../log/logger.js';
import { REJECT_REASONS, type RejectReason } from '../protocol/trading.js';
import { OUTBOX_PRIORITY } from '../store/outbox-types.js';
import { engineConfigFrom } from '../trading/engine-config.js';
import { SimBroker, type WireMessage } from './broker.js';
import { type FaultProfile, zeroFaultCounts } from './faults.js';
import { type CrashPoint, SimHome, type StoreWrites } from './home.js';
import { deterministicKey, keyringOf, signing } from './keys.js';
import { Network } from './network.js';
import type { PlantSpec } from './plant.js';
import { Random, STREAM } from './random.js';
import { type HomeReport, type NeighbourhoodReport, sha256, tradingState } from './report.js';
import { RogueClient } from './rogue.js';
import { Scheduler } from './scheduler.js';
import { WireRecorder } from './wire.js';

export interface NeighbourhoodOptions {
  seed: number;
  homes: number;
  /** Simulated hours with faults; a fault-free heal period follows. */
  hours: number;
  faults: FaultProfile;
  /** Every home's cycle; default a seeded 5–10 s per home. */
  cycleMs?: number;
  /** Default 15. */
  slotMinutes?: number;
  /** UTC (= local) hour of day the run starts; default 9. */
  startHour?: number;
  /** A cloudless day (default: seeded clouds). */
  clearSky?: boolean;
  /** Ed25519 signatures and their checks; default on. */
  signatures?: boolean;
  /** Heal period; default the longest re-send backoff + one slot + 3 minutes. */
  healMs?: number;
  /**
   * The per-home traffic and store-write counts of the report start this long after the start (a warm-up);
   * default 0.
   */
  trafficFromHours?: number;
  /** Called when those counts start (at the start without a warm-up) and when they end (the report). */
  onTrafficWindow?: (edge: 'start' | 'end') => void;
  /**
   * Keeps each home's store in a file in this directory (it must exist) instead of in memory, so that what
   * the stores write can be measured. Default: in memory.
   */
  storeDir?: string;
  /** Test hook: the engine each home runs (e.g. a deliberately broken one around the real engine). */
  wrapEngine?: (engine: Engine, homeId: string) => Engine;
  /** Test hook: rewrites payloads on their way to subscribers (a tampering network). */
  rewrite?: (msg: WireMessage) => Buffer;
}

export const SIM_ZONE = 'sim-zone';
const HOUR_MS = 3_600_000;
/** A midsummer day, so the hours of the day mean the same sun in every run. */
const DAY = Date.UTC(2025, 5, 21);
const SESSION_LIMIT = 1000;

interface HomePlan {
  id: string;
  plant: PlantSpec;
  cycleMs: number;
  phaseMs: number;
  priceCentsPerKwh: number;
  maxBuyPriceCentsPerKwh: number;
}

/** The homes of a seed: some with a big PV array, some small, some none; flexible loads on the others. */
function planHomes(opts: NeighbourhoodOptions): HomePlan[] {
  const rnd = new Random(opts.seed, STREAM.homes);
  const width = String(opts.homes).length;
  return Array.from({ length: opts.homes }, (_, i) => {
    const kind = i === 0 ? 'big' : i === 1 ? 'none' : rnd.pick(['big', 'small', 'none'] as const);
    const pvKwp =
      kind === 'big' ? round1(rnd.range(5, 9)) : kind === 'small' ? round1(rnd.range(1.5, 3.5)) : 0;
    const flex =
      kind !== 'big' && rnd.chance(0.6) ? [{ id: 'water-heater', powerW: rnd.pick([1200, 2000, 3000]) }] : [];
    const cycleMs = opts.cycleMs ?? rnd.pick([5_000, 6_000, 7_500, 10_000]);
    return {
      id: `home-${String(i + 1).padStart(width, '0')}`,
      plant: { seed: rnd.int(1, 0x7fff_ffff), pvKwp, flexLoads: flex, clearSky: opts.clearSky === true },
      cycleMs,
      phaseMs: rnd.int(0, cycleMs - 1),
      priceCentsPerKwh: rnd.int(8, 14),
      maxBuyPriceCentsPerKwh: rnd.int(11, 20),
    };
  });
}

function engineFor(plan: HomePlan, slotMinutes: number): Engine {
  const config = configSchema.parse({
    home: { id: plan.id, zone: SIM_ZONE },
    cycleMs: plan.cycleMs,
    devices: plan.plant.flexLoads.map((l, i) => ({
      id: l.id,
      profile: 'relay',
      gpio: { line: 17 + i },
      load: { powerW: l.powerW, minOnS: 120, minOffS: 120 },
    })),
    engine: {
      slotMinutes,
      priceCentsPerKwh: plan.priceCentsPerKwh,
      maxBuyPriceCentsPerKwh: plan.maxBuyPriceCentsPerKwh,
    },
  });
  return createEngine(engineConfigFrom(config));
}

/**
 * Runs a neighbourhood of homes for `hours` of simulated time with the given faults, then a heal period
 * without faults, and reports what every home and the broker ended up with. Deterministic: everything
 * comes from the seed (no wall clock, no Math.random, no real timers).
 */
export async function runNeighbourhood(opts: NeighbourhoodOptions): Promise<NeighbourhoodReport> {
  if (!(opts.homes >= 2)) throw new RangeError('a neighbourhood needs at least 2 homes');
  if (!(opts.hours > 0)) throw new RangeError('hours must be > 0');
  const slotMinutes = opts.slotMinutes ?? 15;
  const slotMs = slotMinutes * 60_000;
  const signatures = opts.signatures ?? true;
  const faults = opts.faults;
  const start = DAY + (opts.startHour ?? 9) * HOUR_MS;
  const healStart = start + Math.round(opts.hours * HOUR_MS);
  const resendMaxMs = Math.min(15 * 60_000, slotMs);
  const end = healStart + (opts.healMs ?? resendMaxMs + slotMs + 180_000);

  const sched = new Scheduler(start);
  const counts = zeroFaultCounts();
  const recorder = new WireRecorder();
  const net = new Network(new Random(opts.seed, STREAM.network), faults, counts);
  const broker = new SimBroker(
    sched,
    net,
    {
      legacy: faults.legacyBroker,
      retainedToWildcard: faults.noRetainedToWildcard !== true,
      sessionLimit: SESSION_LIMIT,
      rewrite: opts.rewrite,
    },
    counts,
    recorder,
  );
  const log = silentLogger();
  const plans = planHomes(opts);
  const keys = new Map(plans.map((p) => [p.id, deterministicKey(opts.seed, p.id)]));
  const keyring = keyringOf(SIM_ZONE, keys);
  const linkRnd = new Random(opts.seed, STREAM.links);
  const crashRnd = new Random(opts.seed, STREAM.crashes);
  const downRnd = new Random(opts.seed, STREAM.crashes + 100);

  const homes: SimHome[] = [];
  const world = {
    sched,
    broker,
    net,
    recorder,
    linkRnd,
    linkClockRnd: new Random(opts.seed, STREAM.linkClocks),
    legacyBroker: faults.legacyBroker,
    counts,
    log,
    storeDir: opts.storeDir ?? null,
    onDeath: (home: SimHome) => {
      const restartAt = Math.min(sched.now + downRnd.int(faults.downMs[0], faults.downMs[1]), healStart);
      sched.at(restartAt, () => {
        home.restarts++;
        home.boot();
      });
    },
  };
  for (const plan of plans) {
    const engine = engineOf(plan, slotMinutes, opts);
    const { signer, verify } = signing(signatures, plan.id, keys.get(plan.id)!, keyring);
    homes.push(
      new SimHome(
        {
          id: plan.id,
          zone: SIM_ZONE,
          plant: plan.plant,
          cycleMs: plan.cycleMs,
          phaseMs: plan.phaseMs,
          engine,
          signer,
          verify,
        },
        world,
        start,
      ),
    );
  }

  /** A Poisson process of fault events until the heal period. */
  const every = (rnd: Random, perHour: number, fire: () => void) => {
    if (!(perHour > 0)) return;
    const next = () =>
      sched.after(rnd.exponentialMs(perHour), () => {
        if (sched.now >= healStart) return;
        fire();
        next();
      });
    next();
  };

  const points: CrashPoint[] = ['betweenSteps', 'afterCommit', 'midCommit'];
  for (const home of homes) {
    every(crashRnd, faults.crashesPerHomeHour, () => {
      if (home.up) home.crash(crashRnd.pick(points));
    });
    const meterRnd = new Random(opts.seed, STREAM.meters * 1000 + homes.indexOf(home));
    every(meterRnd, faults.meterFaultsPerHomeHour, () => {
      const until = Math.min(
        sched.now + meterRnd.int(faults.meterFaultMs[0], faults.meterFaultMs[1]),
        healStart,
      );
      home.plant.failMeter(meterRnd.chance(0.5) ? 'stale' : 'fault', until);
      counts.meterFaults++;
    });
  }
  const partRnd = new Random(opts.seed, STREAM.partitions);
  every(partRnd, faults.partitionsPerHour, () => {
    const size = partRnd.int(1, Math.ceil(homes.length / 2));
    const cut: SimHome[] = [];
    while (cut.length < size) {
      const h = partRnd.pick(homes);
      if (!cut.includes(h)) cut.push(h);
    }
    counts.partitions++;
    for (const h of cut) {
      net.partition(h.id);
      h.partitioned();
    }
    const healAt = Math.min(sched.now + partRnd.int(faults.partitionMs[0], faults.partitionMs[1]), healStart);
    // The links reconnect on their own once the route is back.
    sched.at(healAt, () => {
      for (const h of cut) net.heal(h.id);
    });
  });
  const rogue = new RogueClient({
    sched,
    broker,
    rnd: new Random(opts.seed, STREAM.rogue),
    zone: SIM_ZONE,
    homes,
    signatures,
    key: deterministicKey(opts.seed, 'rogue'),
  });
  every(new Random(opts.seed, STREAM.rogue + 100), faults.roguePerHour, () => {
    if (rogue.strike()) counts.rogueMessages++;
  });

  sched.at(healStart, () => {
    net.faulty = false;
    net.healAll();
    for (const h of homes) {
      h.disarm();
      h.plant.clearMeterFault();
    }
  });

  let writesFrom = new Map<string, StoreWrites>();
  const startTraffic = () => {
    recorder.resetHomeTraffic();
    writesFrom = new Map(homes.map((h) => [h.id, h.writes()]));
    opts.onTrafficWindow?.('start');
  };
  sched.at(start + (opts.trafficFromHours ?? 0) * HOUR_MS, startTraffic);
  for (const h of homes) h.begin();
  try {
    await sched.runUntil(end);
    return report();
  } finally {
    for (const h of homes) h.close();
  }

  function report(): NeighbourhoodReport {
    opts.onTrafficWindow?.('end');
    const homeReports = homes.map((h, i): HomeReport => {
      const state = h.up ? h.host.state : null;
      const depth = h.store.inner.outbox.stats(sched.now).depth;
      return {
        id: h.id,
        pvKwp: plans[i]!.plant.pvKwp,
        flexLoads: plans[i]!.plant.flexLoads.map((l) => l.id),
        cycleMs: plans[i]!.cycleMs,
        up: h.up,
        offers: state ? ownOffers(state) : [],
        deals: state ? deals(state) : [],
        totals: state ? totals(state) : null,
        crashes: { ...h.crashes },
        restarts: h.restarts,
        failedSteps: h.up ? h.host.stats().failures : 0,
        deadLetters: h.store.inner.deadLetters.totalsByReason(),
        traffic: recorder.perHome.get(h.id) ?? { sent: {}, received: {} },
        writes: writesSince(h.writes(), writesFrom.get(h.id)),
        outbox: Object.fromEntries(OUTBOX_PRIORITY.filter((c) => depth[c] > 0).map((c) => [c, depth[c]])),
      };
    });
    const deadLetters: Record<string, number> = {};
    for (const h of homeReports) {
      for (const [reason, n] of Object.entries(h.deadLetters))
        deadLetters[reason] = (deadLetters[reason] ?? 0) + n;
    }
    const rejects = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
    let trades = 0;
    let energyWh = 0;
    for (const h of homeReports) {
      if (!h.totals) continue;
      trades += h.totals.trades.seller;
      energyWh += h.totals.energyWh.seller;
      for (const r of REJECT_REASONS) rejects[r] += h.totals.rejects[r];
    }
    const wire = {
      published: sorted(recorder.published),
      delivered: sorted(recorder.delivered),
      offers: recorder.wireOffers(),
      trades: recorder.wireTrades(),
      tradeConflicts: [...recorder.tradeConflicts],
    };
    const maxCycle = Math.max(...plans.map((p) => p.cycleMs));
    const body = {
      seed: opts.seed,
      zone: SIM_ZONE,
      hours: opts.hours,
      slotMs,
      signatures,
      faults,
      start,
      healStart,
      end,
      settleBy: healStart,
      knownBy: end - Math.max(60_000, 6 * maxCycle),
      homes: homeReports,
      wire,
      injected: { ...counts, crashes: { ...counts.crashes } },
      rogue: sorted(rogue.expected as Record<string, number>),
      deadLetters: sorted(deadLetters),
      trades,
      energyWh,
      rejects,
      events: sched.executed,
    };
    const tradingDigest = sha256(tradingState(homeReports));
    return { ...body, tradingDigest, digest: sha256({ ...body, tradingDigest }) };
  }
}

/** The home's engine, wrapped by the test hook if there is one. */
function engineOf(plan: HomePlan, slotMinutes: number, opts: NeighbourhoodOptions): Engine {
  const engine = engineFor(plan, slotMinutes);
  return opts.wrapEngine ? opts.wrapEngine(engine, plan.id) : engine;
}

function writesSince(now: StoreWrites, from: StoreWrites | undefined): StoreWrites {
  return {
    stateRows: now.stateRows - (from?.stateRows ?? 0),
    stateBytes: now.stateBytes - (from?.stateBytes ?? 0),
    dedupeRows: now.dedupeRows - (from?.dedupeRows ?? 0),
  };
}

function sorted(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const round1 = (x: number) => Math.round(x * 10) / 10;
