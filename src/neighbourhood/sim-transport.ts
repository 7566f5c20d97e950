import { WILL_DELAY_S } from '../link/connection.js';
import type { BrokerConnection, BrokerTransport, ConnectParams, PublishOptions } from '../link/transport.js';
import type { SimBroker, WireMessage } from './broker.js';
import type { Network } from './network.js';
import type { Random } from './random.js';
import type { Scheduler } from './scheduler.js';
import type { SimClock } from './sim-clock.js';

export interface SimTransportOptions {
  /** The client id the broker knows the home by (its session, No Local, the recorder). */
  home: string;
  /** The network's events: a packet on its way arrives whatever becomes of the process. */
  sched: Scheduler;
  /** The process's clock: what the client side does dies with it. */
  clock: SimClock;
  broker: SimBroker;
  net: Network;
  /** Connect latencies. */
  rnd: Random;
  /** Records a publish as it reaches the broker; returns its envelope type. */
  onPublished: (msg: WireMessage) => string | null;
  /** Runs the link's handling of one inbound message (the simulation wraps some of them). */
  inbound: (msg: WireMessage, handle: () => void) => void;
}

/**
 * The link's transport in the neighbourhood simulation: MQTT 5 (or 3.1.1 when the broker is legacy) QoS 1
 * over the SimBroker and the faulty Network. A PUBLISH takes the network's delay to reach the broker and
 * its PUBACK another; a PUBLISH or PUBACK the network loses fails the publish after the ack timeout, so
 * the drain retries the same outbox row (the same bytes), as a client gives up on a packet that never got
 * its answer. A partition or a crash drops the connection: the broker publishes the will, and the link
 * (if alive) reconnects after its backoff, its attempts timing out while the home is cut off.
 */
export class SimTransport implements BrokerTransport {
  private conn: SimConnection | null = null;

  constructor(
    private readonly o: SimTransportOptions,
    private readonly legacy: boolean,
  ) {}

  connect(p: ConnectParams): Promise<BrokerConnection> {
    const { clock, net, home, rnd } = this.o;
    return new Promise((resolve, reject) => {
      const cutNow = net.isCut(home);
      const timer = clock.setTimer(
        () => {
          p.signal?.removeEventListener('abort', onAbort);
          if (net.isCut(home)) {
            reject(new Error('connect timed out (no route to the broker)'));
            return;
          }
          this.conn?.close(true);
          this.conn = new SimConnection(this.o, p, this.legacy ? 4 : 5);
          resolve(this.conn);
        },
        cutNow ? p.mqtt.ackTimeoutMs : rnd.int(5, 40),
      );
      const onAbort = () => {
        clock.clearTimer(timer);
        reject(new Error('connection attempt aborted'));
      };
      p.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The network cut the home off: the connection dies; the link notices and reconnects later. */
  cut(): void {
    const conn = this.conn;
    this.conn = null;
    if (!conn) return;
    conn.close(true);
    this.o.clock.soon(() => conn.closed());
  }

  /** The process died: the broker sees the connection drop; nobody is left to notice. */
  kill(): void {
    this.conn?.close(true);
    this.conn?.forget();
    this.conn = null;
  }
}

class SimConnection implements BrokerConnection {
  readonly url: string;
  readonly receiveMaximum = undefined;
  readonly maximumPacketSize = undefined;
  private open = true;
  private readonly closeHandlers: (() => void)[] = [];
  private readonly pending = new Set<(err: Error) => void>();

  constructor(
    private readonly o: SimTransportOptions,
    private readonly p: ConnectParams,
    readonly protocolVersion: 4 | 5,
  ) {
    this.url = p.url;
  }

  get connected(): boolean {
    return this.open;
  }

  publish(topic: string, payload: Buffer, opts: PublishOptions): Promise<void> {
    // Too late: the link has not noticed yet; the publish fails once it has.
    if (!this.open) return new Promise((_resolve, reject) => this.pending.add(reject));
    const { sched, clock, net, home } = this.o;
    const fate = net.publishFate();
    if (!fate.lost) {
      const msg: WireMessage = {
        topic,
        payload,
        retain: opts.retain,
        expiresAt: this.protocolVersion === 5 ? opts.expiresAt : undefined,
        from: home,
        type: null,
      };
      // Once sent, the packet reaches the broker whatever happens to this process afterwards.
      sched.after(fate.delayMs, () => this.reach(msg));
    }
    return new Promise((resolve, reject) => {
      this.pending.add(reject);
      const answered = fate.lost || fate.pubackLost ? null : fate.delayMs + fate.pubackDelayMs;
      clock.setTimer(() => {
        if (!this.pending.delete(reject)) return;
        if (answered === null) reject(new Error('no PUBACK within the ack timeout'));
        else resolve();
      }, answered ?? this.p.mqtt.ackTimeoutMs);
    });
  }

  subscribe(filters: readonly string[]): Promise<void> {
    if (!this.open) return Promise.reject(new Error('connection closed'));
    const { broker, home, clock } = this.o;
    broker.connect({
      id: home,
      filters,
      receive: (msg) => {
        if (!this.open || !clock.alive) return false;
        this.o.inbound(msg, () => this.p.onMessage?.(msg.topic, msg.payload, msg.replayed === true));
        this.o.sched.yieldAfterEvent();
        return this.open && clock.alive;
      },
    });
    return Promise.resolve();
  }

  end(force: boolean): Promise<void> {
    this.close(force);
    this.failPending();
    return Promise.resolve();
  }

  onClose(fn: () => void): void {
    this.closeHandlers.push(fn);
  }

  onError(): void {
    // A simulated connection reports no errors of its own: it is open or closed.
  }

  /** Drops the connection; `abnormal`: without a DISCONNECT, so the broker publishes the will. */
  close(abnormal: boolean): void {
    if (!this.open) return;
    this.open = false;
    const { broker, home, sched } = this.o;
    broker.disconnect(home);
    const will = this.p.will;
    if (abnormal && will) {
      // MQTT 5 delays the will (a quick reconnect takes the session over and cancels it); 3.1.1 does not.
      sched.after(this.protocolVersion === 5 ? WILL_DELAY_S * 1000 : 0, () => {
        if (broker.isConnected(home)) return;
        this.reach({
          topic: will.topic,
          payload: will.payload,
          retain: true,
          expiresAt: undefined,
          from: home,
          type: null,
        });
      });
    }
  }

  /** Tells the link the connection is gone; then its unanswered publishes fail (as mqtt.js flushes them). */
  closed(): void {
    for (const fn of this.closeHandlers) fn();
    this.failPending();
  }

  /** The process is gone: its unanswered publishes answer nobody. */
  forget(): void {
    this.pending.clear();
  }

  private failPending(): void {
    const pending = [...this.pending];
    this.pending.clear();
    for (const reject of pending) reject(new Error('connection closed'));
  }

  private reach(msg: WireMessage): void {
    msg.type = this.o.onPublished(msg);
    this.o.broker.publish(msg);
  }
}
