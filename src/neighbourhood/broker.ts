import type { FaultCounts } from './faults.js';
import type { Network } from './network.js';
import type { Scheduler } from './scheduler.js';

/**
 * The simulated MQTT broker: QoS 1 publishes, retained messages (an empty payload clears one; retained
 * messages are delivered on every subscribe), persistent sessions (messages for an offline client are
 * queued, up to a bound, and delivered when it comes back), and delivery through the faulty network.
 * As MQTT 5 brokers do, it drops messages whose expiry has passed and does not echo a client's own
 * publications (No Local); as a 3.1.1 broker (`legacy`) it does neither. Without `retainedToWildcard`
 * (RabbitMQ 3.10's MQTT plugin) a subscribe replays retained messages only to filters without wildcards.
 */
export interface WireMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** Message expiry, epoch ms. */
  expiresAt: number | undefined;
  /** Client id of the publisher. */
  from: string;
  /** The envelope type, or null (an empty payload, or not an envelope). */
  type: string | null;
  /** A retained message sent because of a new subscription (delivered with RETAIN set). */
  replayed?: boolean;
}

export interface Subscriber {
  readonly id: string;
  readonly filters: readonly string[];
  /** Hands a message to the client; false: it died before acknowledging it (redelivered later). */
  receive(msg: WireMessage): boolean;
}

export interface BrokerOptions {
  legacy: boolean;
  /** Retained messages are replayed to wildcard filters too (mosquitto); default true. */
  retainedToWildcard?: boolean;
  /** Messages an offline client's session holds; further ones are dropped and counted. */
  sessionLimit: number;
  /** Test hook: rewrites payloads on their way to subscribers (a network that tampers). */
  rewrite?: ((msg: WireMessage) => Buffer) | undefined;
}

interface Session {
  id: string;
  filters: readonly string[];
  client: Subscriber | null;
  /** Bumped on each connect and disconnect: deliveries started for an older connection are requeued. */
  epoch: number;
  queue: WireMessage[];
  held: WireMessage | null;
}

export class SimBroker {
  private readonly retained = new Map<string, WireMessage>();
  private readonly sessions = new Map<string, Session>();
  /** PUBLISH packets received, including repeats of the same message. */
  received = 0;
  /** Messages handed to clients. */
  handed = 0;
  expiredDropped = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly net: Network,
    private readonly opts: BrokerOptions,
    private readonly counts: FaultCounts,
    private readonly observer: { deliveredTo(to: string, msg: WireMessage): void },
  ) {}

  /** A client (re)connects to its persistent session and subscribes: the queue first, then retained. */
  connect(client: Subscriber): void {
    let s = this.sessions.get(client.id);
    if (!s) {
      s = { id: client.id, filters: client.filters, client: null, epoch: 0, queue: [], held: null };
      this.sessions.set(client.id, s);
    }
    s.filters = client.filters;
    s.client = client;
    s.epoch++;
    s.held = null;
    const queued = s.queue;
    s.queue = [];
    for (const m of queued) this.route(s, m);
    const exactOnly = this.opts.retainedToWildcard === false;
    for (const m of this.retained.values()) {
      if (exactOnly ? this.matchesExactly(s, m) : this.matches(s, m)) this.route(s, { ...m, replayed: true });
    }
  }

  disconnect(id: string): void {
    const s = this.sessions.get(id);
    if (!s || s.client === null) return;
    if (s.held !== null) this.enqueue(s, s.held);
    s.held = null;
    s.client = null;
    s.epoch++;
  }

  /** A PUBLISH that reached the broker. */
  publish(msg: WireMessage): void {
    this.received++;
    if (msg.retain) {
      if (msg.payload.length === 0) this.retained.delete(msg.topic);
      else this.retained.set(msg.topic, msg);
    }
    for (const s of this.sessions.values()) {
      if (this.matches(s, msg)) this.route(s, msg);
    }
  }

  /** Straight to a connected client, bypassing the network (the rogue client's path). */
  inject(to: string, msg: WireMessage): boolean {
    const s = this.sessions.get(to);
    if (!s || s.client === null) return false;
    this.hand(s, msg);
    return true;
  }

  isConnected(id: string): boolean {
    return this.sessions.get(id)?.client != null;
  }

  retainedTopics(): string[] {
    return [...this.retained.keys()];
  }

  private matches(s: Session, msg: WireMessage): boolean {
    if (!this.opts.legacy && msg.from === s.id) return false;
    return s.filters.some((f) => topicMatches(f, msg.topic));
  }

  private matchesExactly(s: Session, msg: WireMessage): boolean {
    if (!this.opts.legacy && msg.from === s.id) return false;
    return s.filters.includes(msg.topic);
  }

  private expired(msg: WireMessage): boolean {
    if (this.opts.legacy || msg.expiresAt === undefined || msg.expiresAt > this.sched.now) return false;
    this.expiredDropped++;
    // A replayed copy stands for the stored message it was made from.
    if (msg.retain && this.retained.get(msg.topic)?.payload === msg.payload) this.retained.delete(msg.topic);
    return true;
  }

  private enqueue(s: Session, msg: WireMessage): void {
    if (s.queue.length >= this.opts.sessionLimit) {
      this.counts.sessionOverflow++;
      return;
    }
    s.queue.push(msg);
  }

  private route(s: Session, msg: WireMessage): void {
    if (this.expired(msg)) return;
    if (s.client === null) {
      this.enqueue(s, msg);
      return;
    }
    const fate = this.net.deliveryFate();
    const epoch = s.epoch;
    fate.copiesMs.forEach((ms, i) => {
      const reorder = fate.reorder && i === 0;
      this.sched.after(ms, () => this.arrive(s, epoch, msg, reorder));
    });
  }

  private arrive(s: Session, epoch: number, msg: WireMessage, reorder: boolean): void {
    if (s.client === null || s.epoch !== epoch) {
      // Not acknowledged by the connection it was sent to: the session redelivers it.
      this.enqueue(s, msg);
      return;
    }
    if (reorder && s.held === null) {
      s.held = msg;
      // Released by the next delivery, or after a while if none comes.
      this.sched.after(2_000, () => {
        if (s.held === msg && s.epoch === epoch) {
          s.held = null;
          this.hand(s, msg);
        }
      });
      return;
    }
    this.hand(s, msg);
    const held = s.held;
    if (held !== null && held !== msg && s.client !== null && s.epoch === epoch) {
      s.held = null;
      this.hand(s, held);
    }
  }

  private hand(s: Session, msg: WireMessage): void {
    if (this.expired(msg)) return;
    const client = s.client;
    if (client === null) {
      this.enqueue(s, msg);
      return;
    }
    const out = this.opts.rewrite ? { ...msg, payload: this.opts.rewrite(msg) } : msg;
    this.handed++;
    this.observer.deliveredTo(s.id, out);
    if (!client.receive(out)) this.enqueue(s, msg);
  }
}

/** MQTT topic filter match with `+` and a trailing `#`. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
