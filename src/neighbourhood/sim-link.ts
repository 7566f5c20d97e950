import type { OutboxQueue, OutboxRow } from '../store/outbox-types.js';
import type { SimBroker, Subscriber, WireMessage } from './broker.js';
import type { Network } from './network.js';
import type { Scheduler } from './scheduler.js';

export interface SimLinkOptions {
  home: string;
  outbox: OutboxQueue;
  broker: SimBroker;
  net: Network;
  sched: Scheduler;
  subscriber: Subscriber;
  /** Records the publish as it reaches the broker; returns the envelope type. */
  onPublished: (msg: WireMessage) => string | null;
  maxInFlight: number;
  ackTimeoutMs: number;
}

/**
 * One process's MQTT link in the simulation: drains the outbox (nextBatch / ack) into the broker with
 * QoS 1 semantics. A publish is acknowledged after a delay, or lost (PUBLISH or PUBACK) and then retried
 * after the ack timeout: the same outbox row, so the same envelope bytes. Rows are deleted only on PUBACK,
 * so a crash or a partition leaves them to the next connection. Like the real link it caps in-flight
 * publishes and drains after each acknowledgement and each notify.
 */
export class SimLink {
  private readonly inFlight = new Set<number>();
  /** Bumped on connect and disconnect: acknowledgements of an older connection are ignored. */
  private epoch = 0;
  private connected = false;
  private alive = true;
  private drainScheduled = false;
  /** The last drain took every row there was: nothing to do until a notify, a retry or a connect. */
  private exhausted = false;
  published = 0;
  retries = 0;

  constructor(private readonly o: SimLinkOptions) {}

  get isConnected(): boolean {
    return this.connected;
  }

  connect(): void {
    if (!this.alive || this.connected) return;
    this.connected = true;
    this.exhausted = false;
    this.epoch++;
    this.o.broker.connect(this.o.subscriber);
    this.drain();
  }

  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    this.epoch++;
    this.inFlight.clear();
    this.o.broker.disconnect(this.o.home);
  }

  /** The process died. */
  stop(): void {
    this.disconnect();
    this.alive = false;
  }

  /** Rows were enqueued: drain as a separate event, after the committing step has returned. */
  notify(): void {
    this.exhausted = false;
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    this.o.sched.after(0, () => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    if (!this.alive || !this.connected) return;
    const room = this.o.maxInFlight - this.inFlight.size;
    if (room <= 0 || this.exhausted) return;
    const rows = this.o.outbox.nextBatch(room, this.o.sched.now, this.inFlight);
    this.exhausted = rows.length < room;
    for (const row of rows) this.publish(row);
  }

  private publish(row: OutboxRow): void {
    const { sched, net, broker } = this.o;
    const epoch = this.epoch;
    this.inFlight.add(row.rowId);
    this.published++;
    const fate = net.publishFate();
    if (!fate.lost) {
      const msg: WireMessage = {
        topic: row.topic,
        payload: row.payload,
        retain: row.retain,
        expiresAt: row.expiresAt,
        from: this.o.home,
        type: null,
      };
      // Once sent, the packet reaches the broker whatever happens to this process afterwards.
      sched.after(fate.delayMs, () => {
        msg.type = this.o.onPublished(msg);
        broker.publish(msg);
      });
    }
    const settle = (acked: boolean) => {
      if (!this.alive || epoch !== this.epoch || !this.inFlight.has(row.rowId)) return;
      this.inFlight.delete(row.rowId);
      if (acked) this.o.outbox.ack(row.rowId, sched.now);
      else {
        this.retries++;
        this.exhausted = false;
        this.o.outbox.retry(row.rowId, 'puback timeout', sched.now);
      }
      this.drain();
    };
    if (fate.lost || fate.pubackLost) sched.after(this.o.ackTimeoutMs, () => settle(false));
    else sched.after(fate.delayMs + fate.pubackDelayMs, () => settle(true));
  }
}
