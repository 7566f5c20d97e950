import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { decodeEnvelope, encodeEnvelope } from '../protocol/envelope.js';
import { statusEnvelope } from '../protocol/messages.js';
import type { Signer } from '../protocol/signing.js';
import { homeTopic } from '../protocol/topics.js';
import type { LinkStore } from './link-store.js';
import type { BrokerConnection } from './transport.js';

export interface StatusPublisherOptions {
  /** The time stamped on the envelopes. */
  stamp: () => number;
  log: Logger;
  home: { id: string; zone: string };
  store: Pick<LinkStore, 'seq'>;
  version: string;
  /** Signs the status messages (and the will); without it they go unsigned. */
  signer?: Signer | undefined;
  /** A status publish settled (its slot in the in-flight window is free again). */
  onSettled: () => void;
}

/**
 * The home's retained status (docs/messages.md): `online` after each connect, `offline` before a clean
 * leave, and `offline` as the will the broker publishes when the connection dies. Each message is built
 * when it is sent, with its own seq. Status publishes count against the broker's Receive Maximum, so
 * they are counted per connection for the drain's window.
 */
export class StatusPublisher {
  readonly topic: string;
  private readonly inFlightOn = new Map<BrokerConnection, number>();
  /** The seq of the last `online` built for each connection. */
  private readonly onlineSeqOn = new Map<BrokerConnection, number>();
  /** `online` re-published because a stale will had overwritten it. */
  reasserted = 0;

  constructor(private readonly o: StatusPublisherOptions) {
    this.topic = homeTopic(o.home.zone, o.home.id, 'status');
  }

  /** The will for the next connection attempt. Throws if the message cannot be built. */
  will(): { topic: string; payload: Buffer } {
    return { topic: this.topic, payload: this.payload('offline', this.o.store.seq.next()) };
  }

  /** Status publishes awaiting PUBACK on `conn`. */
  inFlight(conn: BrokerConnection): number {
    return this.inFlightOn.get(conn) ?? 0;
  }

  /** The connection is gone: its status publishes no longer take room in any window. */
  forget(conn: BrokerConnection): void {
    this.inFlightOn.delete(conn);
    this.onlineSeqOn.delete(conn);
  }

  /**
   * The home's own status came back on `conn` (it subscribes to its own status topic). Without a will delay
   * (MQTT 3.1.1), the broker can publish the will of an earlier connection after this one announced
   * `online`: a RabbitMQ node closes a half-open connection only once the cluster has registered the new
   * one, on another node. That will is older (a lower seq) than our `online`, so `online` is published
   * again. Returns true when it did.
   */
  heard(conn: BrokerConnection, payload: Buffer): boolean {
    const onlineSeq = this.onlineSeqOn.get(conn);
    if (onlineSeq === undefined) return false;
    const decoded = decodeEnvelope(payload);
    if (!decoded.ok) return false;
    const env = decoded.envelope;
    const state = (env.body as { state?: unknown } | null)?.state;
    if (env.from !== this.o.home.id || env.type !== 'status' || state !== 'offline') return false;
    if (env.seq >= onlineSeq) return false;
    this.reasserted++;
    this.o.log.warn(
      { staleSeq: env.seq, onlineSeq },
      'link: a stale will overwrote online; announcing online again',
    );
    void this.publish(conn, 'online');
    return true;
  }

  /** Publishes the retained status on `conn`; never rejects (a failure is logged). */
  publish(conn: BrokerConnection, state: 'online' | 'offline'): Promise<void> {
    let payload: Buffer;
    try {
      const seq = this.o.store.seq.next();
      payload = this.payload(state, seq);
      if (state === 'online') this.onlineSeqOn.set(conn, seq);
      else this.onlineSeqOn.delete(conn);
    } catch (err) {
      this.o.log.error({ err }, 'link: could not build the status message');
      return Promise.resolve();
    }
    this.inFlightOn.set(conn, this.inFlight(conn) + 1);
    return conn
      .publish(this.topic, payload, { qos: 1, retain: true })
      .then(
        () => undefined,
        (err: unknown) => {
          this.o.log.warn({ state, err: errorText(err) }, 'link: status publish failed');
        },
      )
      .finally(() => {
        const n = this.inFlightOn.get(conn);
        if (n !== undefined && n > 1) this.inFlightOn.set(conn, n - 1);
        else this.inFlightOn.delete(conn);
        this.o.onSettled();
      });
  }

  private payload(state: 'online' | 'offline', seq: number): Buffer {
    const { home, version, stamp, signer } = this.o;
    const env = statusEnvelope(home, state, version, seq, stamp());
    return encodeEnvelope(signer ? signer.sign(env) : env);
  }
}
