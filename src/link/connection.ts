import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../config/schema.js';
import { reasonCodeOf, UNSUPPORTED_PROTOCOL_CODES } from './reason-codes.js';

export type ProtocolVersion = 4 | 5;

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

export interface ConnectParams {
  url: string;
  protocolVersion: ProtocolVersion;
  clientId: string;
  mqtt: MqttConfig;
  /** A persistent session: subscriptions and QoS 1 messages wait at the broker while the link is away. */
  persistent: boolean;
  will?: { topic: string; payload: Buffer };
  /** Attached at client creation: queued session messages can arrive in the same read as the CONNACK. */
  onMessage?: (topic: string, payload: Buffer) => void;
  /** Aborts the attempt (the link is stopping). */
  signal?: AbortSignal;
}

export interface Connection {
  client: MqttClient;
  connack: IConnackPacket;
  url: string;
  protocolVersion: ProtocolVersion;
}

function clientOptions(p: ConnectParams): IClientOptions {
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
export function connectOnce(p: ConnectParams): Promise<Connection> {
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
      // A listener must stay: mqtt.js throws on an 'error' nobody listens to.
      client.on('error', () => {});
    };
    client.on('error', onError);
    client.on('close', onClose);
    client.on('connect', onConnect);
    if (p.onMessage) {
      const onMessage = p.onMessage;
      client.on('message', (topic, payload) => onMessage(topic, payload));
      // mqtt.js takes the next packet (and sends the PUBACK) when this calls back: the documented hook
      // for inbound backpressure.
      let sliceStart = performance.now();
      client.handleMessage = (_packet, callback) => {
        if (performance.now() - sliceStart < INBOUND_SLICE_MS) {
          callback();
          return;
        }
        setImmediate(() => {
          sliceStart = performance.now();
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
export async function connectNegotiated(
  p: Omit<ConnectParams, 'protocolVersion'>,
  known: Map<string, ProtocolVersion>,
): Promise<Connection> {
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
