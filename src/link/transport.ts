import type { MqttConfig } from '../config/schema.js';

/**
 * What the link needs from a broker connection, so that the same link runs over mqtt.js (connection.ts)
 * and over the neighbourhood simulation's broker (src/neighbourhood/sim-transport.ts).
 */
export type ProtocolVersion = 4 | 5;

/**
 * What the link loses on an MQTT 3.1.1 connection, and what keeps each guarantee there
 * (docs/brokers.md): message expiry (the drain drops expired rows before sending, receivers refuse a
 * passed `exp`), will delay (the link watches its own status and re-announces `online` over a late will),
 * No Local (the inbox drops the home's own offers), Receive Maximum (mqtt.maxInFlight caps the window),
 * session expiry (a persistent session is kept by the broker until it is cleaned).
 */
export const MQTT5_ONLY_FEATURES = [
  'message-expiry',
  'will-delay',
  'no-local',
  'receive-maximum',
  'session-expiry',
] as const;

export function featuresOff(version: ProtocolVersion): string[] {
  return version === 5 ? [] : [...MQTT5_ONLY_FEATURES];
}

export interface ConnectParams {
  url: string;
  clientId: string;
  mqtt: MqttConfig;
  /** A persistent session: subscriptions and QoS 1 messages wait at the broker while the link is away. */
  persistent: boolean;
  /** Published (retained, QoS 1) by the broker when the connection ends without a DISCONNECT. */
  will?: { topic: string; payload: Buffer };
  /**
   * Attached before the CONNACK: queued session messages can arrive in the same read. `replayed`: the
   * broker sent a stored retained message because of a new subscription (RETAIN set on delivery).
   */
  onMessage?: (topic: string, payload: Buffer, replayed: boolean) => void;
  /** Aborts the attempt (the link is stopping). */
  signal?: AbortSignal;
  /** Instead of `mqtt.username` and `mqtt.passwordFile` (the fallback broker's CONNECT token). */
  credentials?: { username: string; password: string };
  /** Speak this version from the first attempt (a broker known to have no MQTT 5). */
  protocolVersion?: ProtocolVersion;
}

export interface PublishOptions {
  qos: 1;
  retain: boolean;
  /** Epoch ms; the broker drops the message after it (MQTT 5 message expiry). */
  expiresAt?: number | undefined;
}

export interface BrokerConnection {
  readonly url: string;
  readonly protocolVersion: ProtocolVersion;
  /** The broker's Receive Maximum, when it states one. */
  readonly receiveMaximum: number | undefined;
  /** The largest packet the broker takes, when it states one. */
  readonly maximumPacketSize: number | undefined;
  /** False once the connection has closed. */
  readonly connected: boolean;
  /** Resolves on PUBACK; rejects with the broker's reason (an error with a numeric `code`) or a lost connection. */
  publish(topic: string, payload: Buffer, opts: PublishOptions): Promise<void>;
  /** QoS 1 subscriptions (MQTT 5: No Local, so the home does not get its own publications back). */
  subscribe(filters: readonly string[]): Promise<void>;
  /** `force`: drop the connection at once; otherwise a DISCONNECT (the broker discards the will). */
  end(force: boolean): Promise<void>;
  onClose(fn: () => void): void;
  onError(fn: (err: Error) => void): void;
}

export interface BrokerTransport {
  /** One connection attempt (with whatever protocol negotiation the transport does). */
  connect(params: ConnectParams): Promise<BrokerConnection>;
}
