import { readFileSync } from 'node:fs';
import {
  connect,
  type IClientOptions,
  type IClientPublishOptions,
  type IConnackPacket,
  type MqttClient,
} from 'mqtt';
import { systemClock } from '../core/clock.js';
import { reasonCodeOf, UNSUPPORTED_PROTOCOL_CODES } from './reason-codes.js';
import type {
  BrokerConnection,
  BrokerTransport,
  ConnectParams,
  ProtocolVersion,
  PublishOptions,
} from './transport.js';

/** The link's transport over mqtt.js: real sockets, MQTT 5 with a fallback to 3.1.1. */

/** How long the broker keeps the session (inbox subscription and queued messages) after a disconnect. */
export const SESSION_EXPIRY_S = 3600;
/**
 * The will waits this long before the broker publishes it, so a reconnect that takes over the old session
 * (e.g. after a half-open connection) does not let a late `offline` overwrite the new `online`.
 */
export const WILL_DELAY_S = 5;
/**
 * Inbound work runs at most this long before mqtt.js must wait a turn of the event loop: a flood of
 * messages cannot starve timers (cycle, watchdog) however fast the broker delivers it.
 */
export const INBOUND_SLICE_MS = 5;
/** The broker drops larger messages for us instead of sending them (the inbox refuses > 16 KiB anyway). */
export const MAX_INBOUND_PACKET_BYTES = 256 * 1024;

interface VersionedParams extends ConnectParams {
  protocolVersion: ProtocolVersion;
}

interface Connection {
  client: MqttClient;
  connack: IConnackPacket;
  url: string;
  protocolVersion: ProtocolVersion;
}

function clientOptions(p: VersionedParams): IClientOptions {
  const opts: IClientOptions = {
    clientId: p.clientId,
    protocolVersion: p.protocolVersion,
    clean: !p.persistent,
    keepalive: p.mqtt.keepaliveS,
    connectTimeout: p.mqtt.ackTimeoutMs,
    // The link owns reconnects (backoff, broker choice) and makes a fresh client for each connection.
    reconnectPeriod: 0,
    resubscribe: false,
  };
  if (p.mqtt.username !== undefined) opts.username = p.mqtt.username;
  // Read at every attempt so a rotated password is picked up without a restart; only the final line
  // break is dropped (a password may start or end with spaces).
  if (p.mqtt.passwordFile !== undefined) {
    opts.password = readFileSync(p.mqtt.passwordFile, 'utf8').replace(/\r?\n$/, '');
  }
  if (p.url.startsWith('mqtts:') || p.url.startsWith('wss:')) {
    opts.rejectUnauthorized = true;
    if (p.mqtt.caFile !== undefined) opts.ca = readFileSync(p.mqtt.caFile);
  }
  if (p.protocolVersion === 5) {
    opts.properties = {
      sessionExpiryInterval: p.persistent ? SESSION_EXPIRY_S : 0,
      maximumPacketSize: MAX_INBOUND_PACKET_BYTES,
    };
  }
  if (p.will) {
    opts.will = { topic: p.will.topic, payload: p.will.payload, qos: 1, retain: true };
    if (p.protocolVersion === 5) opts.will.properties = { willDelayInterval: WILL_DELAY_S };
  }
  return opts;
}

/** One connection attempt: resolves on CONNACK success, rejects on the first error or close. */
function connectOnce(p: VersionedParams): Promise<Connection> {
  return new Promise((resolve, reject) => {
    let client: MqttClient;
    try {
      client = connect(p.url, clientOptions(p));
    } catch (err) {
      reject(err);
      return;
    }
    const fail = (err: Error) => {
      cleanup();
      client.end(true);
      reject(err);
    };
    const onError = (err: Error) => fail(err);
    const onClose = () => fail(new Error('connection closed before CONNACK'));
    const onAbort = () => fail(new Error('connection attempt aborted'));
    const onConnect = (connack: IConnackPacket) => {
      cleanup();
      resolve({ client, connack, url: p.url, protocolVersion: p.protocolVersion });
    };
    const cleanup = () => {
      client.off('error', onError);
      client.off('close', onClose);
      client.off('connect', onConnect);
      p.signal?.removeEventListener('abort', onAbort);
      // A listener must stay: mqtt.js throws on an 'error' nobody listens to. The link attaches its own
      // (which logs) once connected; a failed attempt has already been reported through reject().
      client.on('error', () => {});
    };
    client.on('error', onError);
    client.on('close', onClose);
    client.on('connect', onConnect);
    if (p.onMessage) {
      const onMessage = p.onMessage;
      client.on('message', (topic, payload) => onMessage(topic, payload));
      // mqtt.js takes the next packet (and sends the PUBACK) when this calls back: the documented hook
      // for inbound backpressure. The slices share out the real event loop the socket runs on, so they
      // are timed on the system clock whatever clock the link runs on.
      const clock = systemClock;
      let sliceStart = clock.now();
      client.handleMessage = (_packet, callback) => {
        if (clock.now() - sliceStart < INBOUND_SLICE_MS) {
          callback();
          return;
        }
        clock.soon(() => {
          sliceStart = clock.now();
          callback();
        });
      };
    }
    if (p.signal?.aborted) onAbort();
    else p.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Connects with MQTT 5 and falls back to 3.1.1 when the broker refuses 5 (CONNACK "unacceptable protocol
 * version"). `known` remembers per broker URL the version that worked, so the fallback costs one attempt.
 */
async function connectNegotiated(p: ConnectParams, known: Map<string, ProtocolVersion>): Promise<Connection> {
  const version = known.get(p.url) ?? 5;
  try {
    const conn = await connectOnce({ ...p, protocolVersion: version });
    known.set(p.url, version);
    return conn;
  } catch (err) {
    const code = reasonCodeOf(err);
    if (version !== 5 || code === undefined || !UNSUPPORTED_PROTOCOL_CODES.has(code)) throw err;
    const conn = await connectOnce({ ...p, protocolVersion: 4 });
    known.set(p.url, 4);
    return conn;
  }
}

/** A live mqtt.js client seen through the link's BrokerConnection. */
class MqttConnection implements BrokerConnection {
  readonly url: string;
  readonly protocolVersion: ProtocolVersion;
  readonly receiveMaximum: number | undefined;
  readonly maximumPacketSize: number | undefined;
  private readonly client: MqttClient;

  constructor(
    c: Connection,
    private readonly now: () => number,
  ) {
    this.client = c.client;
    this.url = c.url;
    this.protocolVersion = c.protocolVersion;
    this.receiveMaximum = c.connack.properties?.receiveMaximum;
    this.maximumPacketSize = c.connack.properties?.maximumPacketSize;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  async publish(topic: string, payload: Buffer, o: PublishOptions): Promise<void> {
    const opts: IClientPublishOptions = { qos: o.qos, retain: o.retain };
    if (this.protocolVersion === 5 && o.expiresAt !== undefined) {
      const seconds = Math.ceil((o.expiresAt - this.now()) / 1000);
      opts.properties = { messageExpiryInterval: Math.max(1, seconds) };
    }
    await this.client.publishAsync(topic, payload, opts);
  }

  async subscribe(filters: readonly string[]): Promise<void> {
    const v5 = this.protocolVersion === 5;
    const subs = Object.fromEntries(
      filters.map((f) => [f, v5 ? { qos: 1 as const, nl: true } : { qos: 1 as const }]),
    );
    await this.client.subscribeAsync(subs);
  }

  async end(force: boolean): Promise<void> {
    if (force) this.client.end(true);
    else await this.client.endAsync(false);
  }

  onClose(fn: () => void): void {
    this.client.on('close', fn);
  }

  onError(fn: (err: Error) => void): void {
    this.client.on('error', fn);
  }
}

/** The transport the service uses; `now` (the time the link stamps on data) gives message expiry its seconds. */
export function createMqttTransport(now: () => number): BrokerTransport {
  const versions = new Map<string, ProtocolVersion>();
  return {
    async connect(p) {
      return new MqttConnection(await connectNegotiated(p, versions), now);
    },
  };
}
