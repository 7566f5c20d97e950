import { join } from 'node:path';
import { configSchema, type MqttConfig } from '../config/schema.js';
import type { Engine } from '../engine/types.js';
import { createLink, type Link } from '../link/link.js';
import type { Logger } from '../log/logger.js';
import type { Envelope } from '../protocol/envelope.js';
import type { Signer, Verify } from '../protocol/signing.js';
import { homeTopic } from '../protocol/topics.js';
import { openStore } from '../store/index.js';
import { type ActuatorCommand, TradingHost } from '../trading/host.js';
import type { SimBroker, WireMessage } from './broker.js';
import type { FaultCounts } from './faults.js';
import type { Network } from './network.js';
import { HomePlant, type PlantSpec } from './plant.js';
import { PowerCutStore } from './power-cut-store.js';
import type { Random } from './random.js';
import type { Scheduler } from './scheduler.js';
import { SimClock } from './sim-clock.js';
import { SimTransport } from './sim-transport.js';
import { ROGUE_ID, type WireRecorder } from './wire.js';

export interface HomeSetup {
  id: string;
  zone: string;
  plant: PlantSpec;
  cycleMs: number;
  /** First cycle at start + phaseMs. */
  phaseMs: number;
  engine: Engine;
  signer: Signer;
  verify: Verify | undefined;
}

export interface HomeWorld {
  sched: Scheduler;
  broker: SimBroker;
  net: Network;
  recorder: WireRecorder;
  /** Connect latencies. */
  linkRnd: Random;
  /** The links' own chance (backoff and drain jitter). */
  linkClockRnd: Random;
  /** An MQTT 3.1.1 broker: the links fall back to 3.1.1. */
  legacyBroker: boolean;
  counts: FaultCounts;
  log: Logger;
  /** A home died: schedule its restart. */
  onDeath: (home: SimHome) => void;
  /** Where the homes' store files go; null: in memory. */
  storeDir: string | null;
}

/** What a home's store was asked to write: engine_state rewrites and inbox dedupe rows. */
export interface StoreWrites {
  stateRows: number;
  stateBytes: number;
  dedupeRows: number;
}

export type CrashPoint = 'betweenSteps' | 'afterCommit' | 'midCommit';

/** One running controller process: everything in memory, lost when it dies. */
interface Proc {
  alive: boolean;
  host: TradingHost;
  clock: SimClock;
  transport: SimTransport;
  link: Link;
}

/**
 * The links' safety poll of an idle outbox: every producer here notifies the link (the host after each
 * step), so the poll finds nothing; at the service's 500 ms it would be nine events in ten of a run.
 */
const IDLE_POLL_MS = 10_000;
/** The links' MQTT settings: the service's defaults (32 in flight, 10 s ack timeout, 1–60 s backoff). */
const LINK_MQTT: MqttConfig = configSchema.parse({
  home: { id: 'sim', zone: 'sim' },
  mqtt: { brokers: ['mqtt://sim-broker'] },
}).mqtt!;
/**
 * An armed crash that found no commit to interrupt within this long happens anyway (buyers commit
 * seldom: a few accepts and acknowledgements per slot).
 */
const ARMED_CRASH_DEADLINE_MS = 20 * 60_000;
/** Payloads a home accepted, kept for the rogue client's replays. */
const REMEMBERED = 16;

/**
 * A simulated home: a real Store (in memory, kept across crashes), a real TradingHost with a real engine
 * and signer, the real link (session, drain, status, inbox with validation, signature check and dedupe)
 * on a simulated clock over a simulated transport, fed by a seeded plant every cycle. A crash throws away
 * the process (host, link, its timers, relays) and a restart builds new ones over the same Store, so only
 * what was committed survives.
 */
export class SimHome {
  readonly id: string;
  readonly plant: HomePlant;
  readonly store: PowerCutStore;
  readonly inboxTopic: string;
  private proc: Proc | null = null;
  private cycle = 0;
  private afterCommitArmed = false;
  readonly crashes: Record<CrashPoint, number> = { betweenSteps: 0, afterCommit: 0, midCommit: 0 };
  restarts = 0;
  /** Recently accepted payloads with their expiry (for replays). */
  readonly accepted: { payload: Buffer; topic: string; exp: number | undefined }[] = [];
  /** engine_state writes of the processes that died (the running one's are in its host's stats). */
  private readonly pastStateWrites = { rows: 0, bytes: 0 };
  private readonly countDedupe: () => number;
  /** The envelope the inbox handed over while handling the current message. */
  private lastAccepted: Envelope | null = null;

  constructor(
    readonly setup: HomeSetup,
    private readonly world: HomeWorld,
    start: number,
  ) {
    this.id = setup.id;
    this.plant = new HomePlant(setup.plant, start);
    const path = world.storeDir === null ? ':memory:' : join(world.storeDir, `${setup.id}.db`);
    this.store = new PowerCutStore(
      openStore({ path, log: world.log, now: () => world.sched.now, readingsFlushMs: 0 }),
    );
    this.inboxTopic = homeTopic(setup.zone, setup.id, 'inbox');
    const dedupe = this.store.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM inbox_seen');
    this.countDedupe = () => dedupe.get()?.n ?? 0;
  }

  /** Writes so far: the state rows every process of this home wrote, the dedupe rows in the table. */
  writes(): StoreWrites {
    const live = this.proc?.host.stats().stateWrites ?? { rows: 0, bytes: 0 };
    return {
      stateRows: this.pastStateWrites.rows + live.rows,
      stateBytes: this.pastStateWrites.bytes + live.bytes,
      dedupeRows: this.countDedupe(),
    };
  }

  get up(): boolean {
    return this.proc !== null;
  }

  get connected(): boolean {
    return this.proc?.link.status().connected === true;
  }

  /** The running host (for the report, after the heal period). */
  get host(): TradingHost {
    if (!this.proc) throw new Error(`${this.id} is down`);
    return this.proc.host;
  }

  /** Starts the first cycle loop and the first process. */
  begin(): void {
    this.world.sched.after(this.setup.phaseMs, () => this.tickLoop());
    this.boot();
  }

  /** A new process over the same Store: a new host (from the stored state) and link. */
  boot(): void {
    if (this.proc) return;
    const { sched, broker, net, recorder, log } = this.world;
    const home = { id: this.id, zone: this.setup.zone };
    this.store.restore();
    this.afterCommitArmed = false;
    const proc = {} as Proc;
    proc.alive = true;
    // The link's own commits (PUBACK batches) are not the commits an armed crash aims at.
    proc.clock = new SimClock(sched, this.world.linkClockRnd, (fn) => this.store.unarmed(fn));
    proc.host = new TradingHost({
      home,
      engine: this.setup.engine,
      store: this.store,
      signer: this.setup.signer,
      now: () => sched.now,
      log,
      actuate: (cmds) => this.actuate(proc, cmds),
      notify: () => this.notified(proc),
    });
    proc.transport = new SimTransport(
      {
        home: this.id,
        sched,
        clock: proc.clock,
        broker,
        net,
        rnd: this.world.linkRnd,
        onPublished: (msg) => recorder.publishedBy(this.id, msg),
        inbound: (msg, handle) => this.receive(proc, msg, handle),
      },
      this.world.legacyBroker,
    );
    proc.link = createLink({
      mqtt: { ...LINK_MQTT, clientId: this.id },
      home,
      outbox: this.store.outbox,
      store: this.store,
      log,
      clock: proc.clock,
      transport: proc.transport,
      version: 'sim',
      idlePollMs: IDLE_POLL_MS,
      signer: this.setup.signer,
      onMessage: (env) => {
        proc.host.message(env);
        this.lastAccepted = env;
      },
      onOfferWithdrawn: (h) => proc.host.offerWithdrawn(h),
      onConnected: () => proc.host.connected(),
      ...(this.setup.verify ? { verify: this.setup.verify } : {}),
    });
    this.proc = proc;
    proc.host.start();
    if (proc.alive) proc.link.start();
  }

  /** Kills the process at the given point (an armed point waits for the next commit, up to a deadline). */
  crash(point: CrashPoint): void {
    const proc = this.proc;
    if (!proc) return;
    if (point === 'betweenSteps') {
      this.die(proc, point);
      return;
    }
    if (point === 'afterCommit') this.afterCommitArmed = true;
    else this.store.arm(() => this.die(proc, 'midCommit'));
    this.world.sched.after(ARMED_CRASH_DEADLINE_MS, () => {
      if (this.proc === proc && (this.afterCommitArmed || this.store.isArmed)) this.die(proc, 'betweenSteps');
    });
  }

  /** Cancels an armed crash (the heal period). */
  disarm(): void {
    this.afterCommitArmed = false;
    this.store.disarm();
  }

  /** The network cut the home off: the connection drops; the link reconnects once it is back. */
  partitioned(): void {
    this.proc?.transport.cut();
  }

  close(): void {
    this.store.close();
  }

  private tickLoop(): void {
    const { sched } = this.world;
    const proc = this.proc;
    if (proc) proc.host.tick(this.plant.snapshot(sched.now, this.cycle++));
    sched.after(this.setup.cycleMs, () => this.tickLoop());
  }

  /** One inbound message for the link's inbox; remembers what it accepted (for the rogue's replays). */
  private receive(proc: Proc, msg: WireMessage, handle: () => void): void {
    if (!proc.alive) return;
    this.lastAccepted = null;
    if (msg.from === ROGUE_ID) {
      this.store.unarmed(handle);
      return;
    }
    handle();
    // Accepted and committed: the handler ran and no power cut killed the process in the commit.
    const env = this.lastAccepted as Envelope | null;
    if (env !== null && proc.alive) {
      this.accepted.push({ payload: msg.payload, topic: msg.topic, exp: env.exp });
      if (this.accepted.length > REMEMBERED) this.accepted.shift();
    }
  }

  private notified(proc: Proc): void {
    if (!proc.alive) return;
    if (this.afterCommitArmed) this.die(proc, 'afterCommit');
    else proc.link.notify();
  }

  private actuate(proc: Proc, cmds: ReadonlyArray<ActuatorCommand>): void {
    if (!proc.alive) return;
    for (const c of cmds) if (c.kind === 'relay') this.plant.setRelay(c.id, c.on);
  }

  private die(proc: Proc, point: CrashPoint): void {
    if (!proc.alive) return;
    proc.alive = false;
    const { rows, bytes } = proc.host.stats().stateWrites;
    this.pastStateWrites.rows += rows;
    this.pastStateWrites.bytes += bytes;
    proc.clock.kill();
    proc.transport.kill();
    this.plant.allOff();
    this.afterCommitArmed = false;
    if (point !== 'midCommit') this.store.disarm();
    if (this.proc === proc) this.proc = null;
    this.crashes[point]++;
    this.world.counts.crashes[point]++;
    this.world.onDeath(this);
  }
}
