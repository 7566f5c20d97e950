import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { encodeEnvelope } from '../protocol/envelope.js';
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

  constructor(private readonly o: StatusPublisherOptions) {
    this.topic = homeTopic(o.home.zone, o.home.id, 'status');
  }

  /** The will for the next connection attempt. Throws if the message cannot be built. */
  will(): { topic: string; payload: Buffer } {
    return { topic: this.topic, payload: this.payload('offline') };
  }

  /** Status publishes awaiting PUBACK on `conn`. */
  inFlight(conn: BrokerConnection): number {
    return this.inFlightOn.get(conn) ?? 0;
  }

  /** The connection is gone: its status publishes no longer take room in any window. */
  forget(conn: BrokerConnection): void {
    this.inFlightOn.delete(conn);
  }

  /** Publishes the retained status on `conn`; never rejects (a failure is logged). */
  publish(conn: BrokerConnection, state: 'online' | 'offline'): Promise<void> {
    let payload: Buffer;
    try {
      payload = this.payload(state);
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

  private payload(state: 'online' | 'offline'): Buffer {
    const { home, version, store, stamp, signer } = this.o;
    const env = statusEnvelope(home, state, version, store.seq.next(), stamp());
    return encodeEnvelope(signer ? signer.sign(env) : env);
  }
}
