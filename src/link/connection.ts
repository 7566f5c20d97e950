import { readFileSync } from 'node:fs';
import {
  connect,
  type IClientOptions,
  type IClientPublishOptions,
  type IConnackPacket,
  type MqttClient,
} from 'mqtt';
import { systemClock } from '../core/clock.js';
import { UNSUPPORTED_PROTOCOL_CODES } from './reason-codes.js';
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

const CLOSED_BEFORE_CONNACK = 'connection closed before CONNACK';

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
    // Otherwise mqtt-packet pre-builds 65,536 two-byte buffers for packet ids on the first write: about
    // 7 MB of heap kept for the life of the process, for no measurable gain at a home's message rate.
    writeCache: false,
  };
  if (p.mqtt.username !== undefined) opts.username = p.mqtt.username;
  // Read at every attempt so a rotated password is picked up without a restart; only the final line
  // break is dropped (a password may start or end with spaces).
  if (p.mqtt.passwordFile !== undefined) {
    opts.password = readFileSync(p.mqtt.passwordFile, 'utf8').replace(/\r?\n$/, '');
  }
  if (p.credentials) {
    opts.username = p.credentials.username;
    opts.password = p.credentials.password;
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
    const onClose = () => fail(new Error(CLOSED_BEFORE_CONNACK));
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
      client.on('message', (topic, payload, packet) => onMessage(topic, payload, packet.retain));
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
 * Failures of an MQTT 5 attempt that mean "this broker does not speak 5": a CONNACK "unacceptable protocol
 * version", or the socket closed or reset after it opened but before any CONNACK. The second is how brokers
 * without MQTT 5 answer (RabbitMQ 3.10's MQTT plugin closes the connection on a version-5 CONNECT); a
 * refused or unreachable socket says nothing about the version and is not one of them.
 */
export function meansNoMqtt5(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return UNSUPPORTED_PROTOCOL_CODES.has(code);
  if (code === 'ECONNRESET' || code === 'EPIPE') return true;
  return err instanceof Error && err.message === CLOSED_BEFORE_CONNACK;
}

/** A version learnt from a fallback is tried again after this long: a broker may be upgraded under us. */
export const RENEGOTIATE_AFTER_MS = 3_600_000;

interface KnownVersion {
  version: ProtocolVersion;
  at: number;
}

/**
 * Connects with MQTT 5 and falls back to 3.1.1 at once when the broker shows it has no MQTT 5
 * (meansNoMqtt5). `known` remembers per broker URL the version that worked, so the fallback costs one
 * attempt; a 3.1.1 learnt from a fallback is re-negotiated after RENEGOTIATE_AFTER_MS.
 */
async function connectNegotiated(
  p: ConnectParams,
  known: Map<string, KnownVersion>,
  now: () => number,
): Promise<Connection> {
  if (p.protocolVersion !== undefined) return connectOnce({ ...p, protocolVersion: p.protocolVersion });
  const k = known.get(p.url);
  const version: ProtocolVersion = k && now() - k.at < RENEGOTIATE_AFTER_MS ? k.version : 5;
  try {
    const conn = await connectOnce({ ...p, protocolVersion: version });
    if (!k || k.version !== version) known.set(p.url, { version, at: now() });
    return conn;
  } catch (err) {
    if (version !== 5 || !meansNoMqtt5(err) || p.signal?.aborted) throw err;
    const conn = await connectOnce({ ...p, protocolVersion: 4 });
    known.set(p.url, { version: 4, at: now() });
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
  const versions = new Map<string, KnownVersion>();
  return {
    async connect(p) {
      return new MqttConnection(await connectNegotiated(p, versions, now), now);
    },
  };
}
