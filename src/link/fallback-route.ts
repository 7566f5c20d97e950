import type { MqttConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import {
  currentTerm,
  type ElectionState,
  heard,
  holds,
  lost,
  mustRetake,
  NO_ELECTION,
  renew,
  sawEpoch,
  takeTerm,
} from '../fallback/election.js';
import type { Logger } from '../log/logger.js';
import { defaultClientId } from '../protocol/topics.js';
import {
  CONVERGE_MS,
  FALLBACK_CONNECT_MS,
  FALLBACK_KEEPALIVE_S,
  FALLBACK_ROWS,
  type FallbackOptions,
  FIRST_LOOK_MS,
  LEASE_MS,
  type LinkMode,
  RETRY_MS,
  RETURN_HOLD_MS,
  type RouteSide,
  type RouteStatus,
} from './fallback-options.js';
import { OwnBroker } from './fallback-own-broker.js';
import { NamedTimers } from './named-timers.js';
import type { BrokerConnection, BrokerTransport } from './transport.js';
/**
 * The link's fallback (docs/protocol.md "Fallback"): enters it after every upstream broker has been
 * unreachable for `afterMs`, elects the leader (src/fallback/election.ts: the lowest reachable candidate),
 * leads (its broker, its term, its lease) or follows over one connection, looks for a lower leader now
 * and then, and goes back upstream once an upstream connection has held RETURN_HOLD_MS. The upstream
 * session keeps trying its brokers all along, with its backoff and jitter: that is the probe.
 */
export class FallbackRoute {
  private current: LinkMode = 'offline';
  private since: number;
  private election: ElectionState = NO_ELECTION;
  private leader: string | null = null;
  private conn: BrokerConnection | null = null;
  private electing = false;
  private running = false;
  private elections = 0;
  private received = 0;
  private readonly timers: NamedTimers;
  private readonly own: OwnBroker;
  private readonly log: Logger;

  constructor(
    private readonly o: FallbackOptions & {
      clock: Clock;
      log: Logger;
      mqtt: MqttConfig;
      transport: BrokerTransport;
      self: string;
      side: RouteSide;
      /** The upstream connection that held: the link attaches it. */
      returnUpstream: (conn: BrokerConnection) => void;
    },
  ) {
    this.log = o.log;
    this.since = o.clock.now();
    this.timers = new NamedTimers(o.clock);
    this.own = new OwnBroker(o.clock, o.log, o.startBroker);
  }

  get mode(): LinkMode {
    return this.current;
  }

  /** The fallback broker in use. */
  get url(): string | null {
    return this.conn?.url ?? null;
  }

  get inFallback(): boolean {
    return this.current === 'fallback-leader' || this.current === 'fallback-member';
  }

  status(): RouteStatus {
    const term = currentTerm(this.election, this.o.clock.now());
    return {
      mode: this.current,
      leader: this.inFallback ? this.leader : null,
      epoch: this.inFallback ? (term?.epoch ?? this.election.epoch) : null,
      since: this.since,
      elections: this.elections,
      fallbackReceived: this.received,
    };
  }

  start(): void {
    this.running = true;
    this.timers.arm('enter', this.o.afterMs, () => void this.enter());
  }

  async stop(deadline: number): Promise<void> {
    this.running = false;
    this.timers.clearAll();
    const conn = this.conn;
    this.conn = null;
    if (conn) await this.o.side.leave(conn, deadline);
    await this.own.close();
  }

  // ---- upstream --------------------------------------------------------------------------------

  /** An upstream broker answered: true when the link uses it now; in fallback only after it held. */
  upstreamUp(conn: BrokerConnection): boolean {
    this.timers.clear('enter');
    if (!this.inFallback) {
      this.setMode('upstream');
      return true;
    }
    this.log.info({ broker: conn.url }, 'link: an upstream broker answers; going back if it holds');
    this.timers.arm('hold', RETURN_HOLD_MS, () => void this.goBack(conn));
    return false;
  }

  upstreamDown(): void {
    this.timers.clear('hold');
    if (this.current === 'upstream') this.setMode('offline');
    if (!this.inFallback && !this.timers.has('enter') && this.running) {
      this.timers.arm('enter', this.o.afterMs, () => void this.enter());
    }
  }

  private async goBack(conn: BrokerConnection): Promise<void> {
    if (!conn.connected || !this.running) return;
    this.log.info({ broker: conn.url, leader: this.leader }, 'link: upstream broker back, leaving fallback');
    this.timers.clear('renew', 'converge', 'retry');
    const old = this.conn;
    this.conn = null;
    if (old) await this.o.side.leave(old, this.o.clock.now() + this.o.mqtt.ackTimeoutMs);
    this.election = lost(this.election);
    this.leader = null;
    this.setMode('upstream');
    this.own.retire();
    if (conn.connected) this.o.returnUpstream(conn);
  }

  // ---- election --------------------------------------------------------------------------------

  private async enter(): Promise<void> {
    this.timers.clear('enter');
    if (!this.running || this.current === 'upstream' || this.inFallback) return;
    this.log.warn(
      { afterMs: this.o.afterMs },
      'link: no upstream broker answers; electing a home to carry the zone',
    );
    await this.elect();
  }

  /** Candidates in id order: this home leads if it comes first and may host, else the first that answers. */
  private async elect(): Promise<void> {
    if (!this.running || this.conn) return;
    if (this.electing) {
      // A look for a lower leader is under way: elect once it is done.
      this.timers.arm('retry', 200, () => void this.elect());
      return;
    }
    this.electing = true;
    try {
      for (const home of [...this.o.endpoints.keys()].sort()) {
        if (!this.running || this.current === 'upstream') return;
        if (home === this.o.self) {
          if (!this.o.mayHost) continue;
          await this.lead();
          return;
        }
        const conn = await this.tryLeader(home);
        if (conn) {
          this.follow(home, conn);
          return;
        }
      }
      this.log.warn('link: no home of the zone can carry it now; trying again');
      this.timers.arm('retry', RETRY_MS + this.o.clock.random() * RETRY_MS, () => void this.elect());
    } finally {
      this.electing = false;
    }
  }

  private async tryLeader(
    home: string,
    url = `mqtt://${this.o.endpoints.get(home)}`,
  ): Promise<BrokerConnection | null> {
    const o = this.o;
    const ref: { conn: BrokerConnection | null } = { conn: null };
    try {
      ref.conn = await o.transport.connect({
        url,
        clientId: defaultClientId(o.self),
        mqtt: { ...o.mqtt, ackTimeoutMs: FALLBACK_CONNECT_MS, keepaliveS: FALLBACK_KEEPALIVE_S },
        persistent: true,
        will: o.side.will(),
        credentials: o.credentials(home, this.election.epoch),
        protocolVersion: 4,
        onMessage: (topic, payload, replayed) => this.message(ref.conn, topic, payload, replayed),
      });
      return ref.conn;
    } catch (err) {
      this.log.debug({ home, url, err: errorText(err) }, 'link: fallback candidate does not answer');
      return null;
    }
  }

  private async lead(): Promise<void> {
    const o = this.o;
    this.election = takeTerm(this.election, o.self, o.clock.now(), LEASE_MS);
    try {
      await this.own.open((epoch) => this.memberEpoch(epoch));
    } catch (err) {
      this.log.error({ err: errorText(err) }, 'link: the fallback broker cannot start; trying again');
      this.timers.arm('retry', RETRY_MS, () => void this.elect());
      return;
    }
    await this.announce();
    const conn = await this.tryLeader(o.self, o.ownUrl);
    if (!conn) {
      this.timers.arm('retry', RETRY_MS, () => void this.elect());
      return;
    }
    this.elections++;
    this.log.warn({ epoch: this.election.epoch }, 'link: no broker: this home carries the zone');
    this.use(o.self, conn, 'fallback-leader');
    this.timers.arm('renew', LEASE_MS / 3, () => void this.renewTerm());
    // Homes entering fallback together may each lead at first: a lower one that leads is found soon.
    // Later a lower home may come back, or two islands meet: looked for again now and then.
    this.armConverge(FIRST_LOOK_MS + this.o.clock.random() * FIRST_LOOK_MS);
  }

  private follow(home: string, conn: BrokerConnection): void {
    this.elections++;
    this.log.warn({ leader: home }, `link: no broker: trading through ${home}`);
    this.use(home, conn, 'fallback-member');
    this.armConverge();
    this.timers.arm('renew', LEASE_MS / 3, () => this.checkLease());
  }

  private use(home: string, conn: BrokerConnection, mode: LinkMode): void {
    this.conn = conn;
    this.leader = home;
    this.setMode(mode);
    conn.onClose(() => this.connLost(conn));
    conn.onError((err) => this.log.warn({ leader: home, err: err.message }, 'link: fallback MQTT error'));
    conn.subscribe([...this.o.side.subscriptions, this.o.termFilter]).catch((err: unknown) => {
      this.log.error({ err: errorText(err) }, 'link: subscribing on the fallback broker failed');
    });
    this.o.side.attach(conn, FALLBACK_ROWS);
    if (!conn.connected) this.connLost(conn);
  }

  private connLost(conn: BrokerConnection): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.o.side.lost(conn);
    conn.end(true).catch(() => {
      // Already gone; nothing depends on it.
    });
    if (!this.running || !this.inFallback) return;
    this.log.warn({ leader: this.leader }, 'link: the fallback leader is gone; electing the next');
    this.election = lost(this.election);
    this.leader = null;
    this.timers.clear('renew', 'converge');
    this.setMode('offline');
    void this.elect();
  }

  private message(conn: BrokerConnection | null, topic: string, payload: Buffer, replayed: boolean): void {
    this.received++;
    if (topic.endsWith('/term')) {
      const term = this.o.readTerm(payload);
      if (term) this.election = heard(this.election, term, this.o.clock.now());
      return;
    }
    this.o.side.onMessage(conn, topic, payload, replayed);
  }

  // ---- leader ----------------------------------------------------------------------------------

  private memberEpoch(epoch: number): void {
    this.election = sawEpoch(this.election, epoch);
    if (this.current === 'fallback-leader' && mustRetake(this.election, this.o.self)) {
      this.election = takeTerm(this.election, this.o.self, this.o.clock.now(), LEASE_MS);
      this.log.info({ epoch: this.election.epoch }, 'link: a member saw a later term; taking a new one');
      void this.announce();
    }
  }

  private async announce(): Promise<void> {
    const term = this.election.term;
    const broker = this.own.running;
    if (!broker || !term) return;
    await broker.announce(this.o.termTopic(this.o.self), this.o.termPayload(term)).catch((err: unknown) => {
      this.log.warn({ err: errorText(err) }, 'link: announcing the term failed');
    });
  }

  private async renewTerm(): Promise<void> {
    if (this.current !== 'fallback-leader') return;
    this.election = renew(this.election, this.o.self, this.o.clock.now(), LEASE_MS);
    await this.announce();
    this.timers.arm('renew', LEASE_MS / 3, () => void this.renewTerm());
  }

  // ---- member ----------------------------------------------------------------------------------

  /** A term heard whose lease ran out: its leader is stuck; leave it. */
  private checkLease(): void {
    if (this.current !== 'fallback-member') return;
    const t = this.election.term;
    if (t && !holds(t, this.o.clock.now()) && this.conn) {
      this.log.warn({ leader: this.leader, epoch: t.epoch }, 'link: the leader stopped renewing its term');
      const conn = this.conn;
      void conn.end(true).finally(() => this.connLost(conn));
      return;
    }
    this.timers.arm('renew', LEASE_MS / 3, () => this.checkLease());
  }

  /** Looks for a lower leader after `ms` (default: about CONVERGE_MS), then again while in fallback. */
  private armConverge(ms = CONVERGE_MS / 2 + this.o.clock.random() * CONVERGE_MS): void {
    this.timers.arm('converge', ms, async () => {
      await this.lookLower();
      if (this.inFallback) this.armConverge();
    });
  }

  /** Tries the candidates below the current leader; the first that answers becomes the leader. */
  private async lookLower(): Promise<void> {
    const leader = this.leader;
    if (!leader || this.electing || !this.inFallback) return;
    this.electing = true;
    try {
      for (const home of [...this.o.endpoints.keys()].sort()) {
        if (home >= leader) return;
        if (home === this.o.self) continue;
        const conn = await this.tryLeader(home);
        if (!conn) continue;
        if (this.leader !== leader || !this.inFallback) {
          void conn.end(true);
          return;
        }
        this.log.info({ from: leader, to: home }, 'link: a lower home leads; moving to it');
        const old = this.conn;
        this.conn = null;
        this.timers.clear('renew', 'converge');
        if (old) await this.o.side.leave(old, this.o.clock.now() + this.o.mqtt.ackTimeoutMs);
        this.own.retire();
        this.follow(home, conn);
        return;
      }
    } finally {
      this.electing = false;
    }
  }

  // ---- bits ------------------------------------------------------------------------------------

  private setMode(mode: LinkMode): void {
    if (mode === this.current) return;
    this.log.info({ from: this.current, to: mode, leader: this.leader }, `link: mode ${mode}`);
    this.current = mode;
    this.since = this.o.clock.now();
  }
}
