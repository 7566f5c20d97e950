import type { MqttConfig } from '../config/schema.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { OutboxClass, OutboxQueue, OutboxRow } from '../store/outbox-types.js';
import { type BreakerTicket, CircuitBreaker, type CircuitState } from './breaker.js';
import { type InFlight, InFlightWindow } from './in-flight.js';
import type { LinkStore } from './link-store.js';
import { classifyPublishError } from './reason-codes.js';
import { type Outcome, type SettleCounters, Settler } from './settle.js';
import { BacklogThrottle } from './throttle.js';
import type { BrokerConnection } from './transport.js';

/** Consecutive publish failures or PUBACK timeouts that open the circuit breaker. */
export const BREAKER_THRESHOLD = 5;
/** How often an idle drain looks at the outbox when nobody calls notify(), by default. */
export const DEFAULT_IDLE_POLL_MS = 500;
/** How soon a drain the breaker refused tries again. */
const OPEN_POLL_MS = 250;
/** MQTT 5 Receive Maximum when the broker does not state one. */
const MQTT_DEFAULT_RECEIVE_MAXIMUM = 65_535;
/** Bytes a PUBLISH adds around topic and payload (fixed header, lengths, packet id, properties). */
const PUBLISH_OVERHEAD_BYTES = 32;

export interface DrainOptions {
  clock: Clock;
  /** The time stamped on data: the outbox's expiry and records (the clock's, unless the caller says). */
  stamp: () => number;
  log: Logger;
  mqtt: MqttConfig;
  outbox: OutboxQueue;
  store: Pick<LinkStore, 'transaction'>;
  /** Upper bound of the random pause before the backlog drain starts after a connect. */
  startJitterMs: number;
  /** How often an idle drain looks at the outbox anyway (a producer that did not notify). */
  idlePollMs: number;
  /** Other publishes awaiting PUBACK on the connection (status): they count against its cap too. */
  othersInFlight: (conn: BrokerConnection) => number;
  noteError: (message: string) => void;
}

/**
 * Which rows a connection takes: all of them on an upstream broker; on the fallback broker only what the
 * members read there (drain.attach), the rest waits in the outbox for an upstream PUBACK.
 */
export interface RowRoute {
  /** Classes never fetched for this connection. */
  skipClasses: ReadonlySet<OutboxClass>;
  /** A fetched row this connection must not take: it stays in the outbox until the next connection. */
  holds(row: OutboxRow): boolean;
}

export interface DrainCounters extends SettleCounters {
  ackTimeouts: number;
  peakInFlight: number;
}

/**
 * The outbox drain over one connection at a time: a window of at most `cap` publishes awaiting PUBACK
 * (min(mqtt.maxInFlight, the broker's Receive Maximum)), refilled in batches; after each connect a backlog
 * throttle (mqtt.drainRatePerS, after a random start pause); the circuit breaker; PUBACK timeouts (a
 * failure for the breaker, the row stays in flight until the connection settles it). What each outcome
 * does to its row is settle.ts's: a row leaves the outbox only on its PUBACK; anything else retries it.
 */
export class Drain {
  readonly counters: DrainCounters = {
    published: 0,
    retries: 0,
    deadLettered: 0,
    ackTimeouts: 0,
    peakInFlight: 0,
    lastSuccessTs: null,
  };
  private readonly breaker: CircuitBreaker;
  private conn: BrokerConnection | null = null;
  private connCap = 0;
  /** Leaving the connection: no new rows, in-flight ones still settle. */
  private paused = false;
  /** After the link stopped: no more pumps. */
  private closed = false;
  private readonly inFlight: InFlightWindow;
  private readonly settler: Settler;
  private readonly throttle: BacklogThrottle;
  private route: RowRoute | null = null;
  /** Rows the current route holds back (rowIds), skipped by the next batches on this connection. */
  private readonly held = new Set<number>();
  private pumpScheduled = false;
  private pumpTimer: TimerHandle | null = null;
  private readonly changeWaiters = new Set<() => void>();

  constructor(private readonly o: DrainOptions) {
    this.throttle = new BacklogThrottle(o.mqtt.drainRatePerS);
    this.inFlight = new InFlightWindow(o.clock, o.mqtt.ackTimeoutMs, (timedOut) => this.timedOut(timedOut));
    this.settler = new Settler({
      stamp: o.stamp,
      log: o.log,
      outbox: o.outbox,
      store: o.store,
      counters: this.counters,
      noteError: o.noteError,
      release: (entry) => {
        this.inFlight.remove(entry);
        this.changed();
      },
    });
    const log = o.log;
    this.breaker = new CircuitBreaker(o.clock, {
      threshold: BREAKER_THRESHOLD,
      initialDelayMs: o.mqtt.ackTimeoutMs,
      maxDelayMs: o.mqtt.reconnectMaxMs,
      onBreak: () => log.warn({ broker: this.conn?.url }, 'link: circuit breaker open, publishing paused'),
      onHalfOpen: () => log.info('link: circuit breaker half-open, probing with one message'),
      onReset: () => {
        log.info('link: circuit breaker closed, publishing resumed');
        this.notify();
      },
    });
  }

  get breakerState(): CircuitState {
    return this.breaker.state;
  }

  /** Publishes awaiting PUBACK on the current connection, status ones included. */
  get inFlightCount(): number {
    return this.inFlight.size + (this.conn ? this.o.othersInFlight(this.conn) : 0);
  }

  /** The window of the current connection (0 without one). */
  get cap(): number {
    return this.conn ? this.connCap : 0;
  }

  get throttled(): boolean {
    return this.conn !== null && this.throttle.active;
  }

  /**
   * A new connection: the window is its cap, the backlog drain starts after a random pause. `route`
   * narrows the rows it takes (the fallback broker); without it, it takes every row.
   */
  attach(conn: BrokerConnection, route: RowRoute | null = null): void {
    this.conn = conn;
    this.route = route;
    this.held.clear();
    this.paused = false;
    this.connCap = Math.max(
      1,
      Math.min(this.o.mqtt.maxInFlight, conn.receiveMaximum ?? MQTT_DEFAULT_RECEIVE_MAXIMUM),
    );
    this.o.log.debug({ broker: conn.url, inFlightCap: this.connCap }, 'link: drain attached');
    this.throttle.restart(this.o.clock.now() + this.o.clock.random() * this.o.startJitterMs);
    this.notify();
  }

  /** The connection is gone: commits the PUBACKs received, hands the other in-flight rows back. */
  detach(conn: BrokerConnection): void {
    if (this.conn === conn) {
      this.conn = null;
      this.clearTimers();
    }
    this.flushAcks();
    for (const e of this.inFlight.all()) if (e.conn === conn) this.settle(e, { kind: 'lost' });
    this.flushAcks();
    this.changed();
  }

  /** Takes no more rows on the current connection (leaving it); in-flight ones still settle. */
  pause(): void {
    this.paused = true;
    this.clearPumpTimer();
  }

  /** Waits until nothing is in flight on `conn` or the deadline passed; true when nothing is. */
  async settled(conn: BrokerConnection, deadline: number): Promise<boolean> {
    const { clock } = this.o;
    while (this.conn === conn && this.inFlightCount > 0 && clock.now() < deadline) {
      await this.nextChange(deadline - clock.now());
      this.flushAcks();
    }
    return this.inFlightCount === 0;
  }

  /** The link stopped: commits what was acknowledged; later settlements write nothing. */
  close(): void {
    this.settler.close();
    this.closed = true;
    this.clearTimers();
  }

  /** Rows were enqueued (or room freed): drain as soon as the current work is done. */
  notify(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    this.o.clock.soon(() => this.pump());
  }

  /** Something in flight settled: wakes settled(). */
  changed(): void {
    for (const wake of [...this.changeWaiters]) wake();
  }

  private nextChange(ms: number): Promise<void> {
    const { clock } = this.o;
    return new Promise((resolve) => {
      const done = () => {
        clock.clearTimer(t);
        this.changeWaiters.delete(done);
        resolve();
      };
      const t = clock.setTimer(done, ms);
      this.changeWaiters.add(done);
    });
  }

  private clearPumpTimer(): void {
    this.o.clock.clearTimer(this.pumpTimer);
    this.pumpTimer = null;
  }

  private clearTimers(): void {
    this.clearPumpTimer();
    this.inFlight.disarm();
  }

  private pumpIn(ms: number): void {
    this.clearPumpTimer();
    this.pumpTimer = this.o.clock.setTimer(() => this.pump(), Math.max(1, Math.ceil(ms)));
  }

  private pump(): void {
    this.pumpScheduled = false;
    this.clearPumpTimer();
    this.flushAcks();
    const conn = this.conn;
    if (!conn || this.paused || this.closed) return;
    const state = this.breaker.state;
    // Half-open: the probe is out; its settlement pumps again.
    if (state === 'half-open') return;
    let want = this.connCap - this.inFlightCount;
    if (want <= 0) return;
    if (state === 'open') {
      const wait = this.breaker.probeInMs;
      if (wait > 0) {
        this.pumpIn(wait);
        return;
      }
      want = 1;
    }
    // Refill the window in batches: one outbox query per few PUBACKs, not one per PUBACK.
    else if (want < Math.ceil(this.connCap / 4) && this.inFlight.size > 0) return;

    const t = this.o.clock.now();
    const allowed = this.throttle.take(want, t);
    if ('waitMs' in allowed) {
      this.pumpIn(allowed.waitMs);
      return;
    }
    want = allowed.rows;

    let rows: OutboxRow[];
    const route = this.route;
    try {
      const skip =
        route && this.held.size > 0 ? new Set([...this.inFlight.ids, ...this.held]) : this.inFlight.ids;
      rows = this.o.outbox.nextBatch(want, this.o.stamp(), skip, route?.skipClasses);
    } catch (err) {
      this.o.noteError(`outbox: ${errorText(err)}`);
      this.o.log.error({ err }, 'link: reading the outbox failed');
      this.pumpIn(this.o.idlePollMs);
      return;
    }
    if (this.throttle.spent(rows.length, want)) this.o.log.debug('link: backlog drained, throttle off');
    for (const row of rows) {
      // Skipped from the next batch on: the pump goes on to the rows after it.
      if (route?.holds(row)) {
        this.held.add(row.rowId);
        continue;
      }
      const ticket = this.breaker.admit();
      if (!ticket) {
        this.pumpIn(OPEN_POLL_MS);
        return;
      }
      this.launch(conn, row, ticket);
    }
    if (rows.length === 0) {
      this.pumpIn(this.o.idlePollMs);
      return;
    }
    this.notify();
  }

  private launch(conn: BrokerConnection, row: OutboxRow, ticket: BreakerTicket): void {
    const entry: InFlight = {
      row,
      conn,
      startedAt: this.o.clock.now(),
      timedOut: false,
      settled: false,
      ticket,
    };
    this.inFlight.add(entry);
    this.counters.peakInFlight = Math.max(this.counters.peakInFlight, this.inFlightCount);

    const maxPacket = conn.maximumPacketSize;
    const size = row.payload.length + Buffer.byteLength(row.topic) + PUBLISH_OVERHEAD_BYTES;
    if (maxPacket !== undefined && size > maxPacket) {
      this.settle(entry, {
        kind: 'dead-letter',
        reason: `packet too large for the broker (maximum ${maxPacket} bytes)`,
      });
      return;
    }
    conn
      .publish(row.topic, row.payload, {
        qos: 1,
        // The outbox sets `retain` from the message's class (OUTBOX_CLASSES).
        retain: row.retain,
        expiresAt: row.expiresAt,
      })
      .then(
        () => this.settle(entry, { kind: 'ack' }),
        (err: unknown) => this.settle(entry, classifyPublishError(err)),
      );
  }

  private settle(entry: InFlight, outcome: Outcome): void {
    if (this.settler.settle(entry, outcome)) this.notify();
  }

  private flushAcks(): void {
    this.settler.flushAcks();
  }

  /** PUBACK timeouts: a failure for the breaker, but the row stays in flight until the connection settles it. */
  private timedOut(entries: InFlight[]): void {
    const timeout = this.o.mqtt.ackTimeoutMs;
    for (const e of entries) {
      this.counters.ackTimeouts++;
      this.o.noteError(`PUBACK timeout after ${timeout} ms`);
      e.ticket.failure();
    }
    this.notify();
  }
}
