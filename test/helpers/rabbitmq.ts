import mqtt, { type IClientOptions } from 'mqtt';
import {
  disposeAllRabbitClusters,
  type RabbitCluster,
  type RabbitClusterOptions,
  startRabbitCluster,
} from '../../scripts/brokers/rabbitmq-cluster.js';

/**
 * A real RabbitMQ cluster per test file (scripts/brokers/rabbitmq-cluster.ts): start it in beforeAll with
 * RABBIT_HOOK_TIMEOUT, call stopAllRabbitClusters() in afterAll. MQTT is anonymous (the guest user, from
 * loopback): connect to `cluster.nodes[i].mqttUrl` with protocolVersion 4, the only one 3.10 speaks.
 */
export type { RabbitCluster, RabbitNode } from '../../scripts/brokers/rabbitmq-cluster.js';

/** A 3-node boot takes ~15 s on two idle cores; leave room for a loaded machine. */
export const RABBIT_HOOK_TIMEOUT = 240_000;

/** A cluster with the script's defaults (3 nodes, MQTT on every node). */
export function startTestRabbitCluster(opts: RabbitClusterOptions = {}): Promise<RabbitCluster> {
  return startRabbitCluster(opts);
}

export const stopAllRabbitClusters = disposeAllRabbitClusters;

/** What one MQTT connection attempt looked like from mqtt.js, event by event. */
export interface MqttAttempt {
  connected: boolean;
  /** The CONNACK return code (3.1.1) or reason code (5), when one came. */
  code?: number;
  /** 'connect', 'error: <name>: <message>', 'close', 'offline', 'end', in the order mqtt.js emitted them. */
  events: string[];
  ms: number;
}

/**
 * One connection attempt with no reconnect; resolves after the CONNACK or `settleMs` after the first
 * close/error (so a late 'error' after 'close' is seen too), or after `timeoutMs`.
 */
export function attemptMqtt(
  url: string,
  opts: IClientOptions = {},
  { settleMs = 300, timeoutMs = 15_000 } = {},
): Promise<MqttAttempt> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const events: string[] = [];
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, ...opts });
    let code: number | undefined;
    let done = false;
    const finish = (connected: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.end(true);
      resolve({
        connected,
        ...(code === undefined ? {} : { code }),
        events: [...events],
        ms: Date.now() - t0,
      });
    };
    const settle = () => setTimeout(() => finish(false), settleMs);
    const timer = setTimeout(() => finish(false), timeoutMs + 1000);
    client.on('connect', (ack) => {
      events.push('connect');
      code = ack.returnCode ?? ack.reasonCode;
      finish(true);
    });
    client.on('error', (err) => {
      events.push(`error: ${err.name}: ${err.message}`);
      settle();
    });
    client.on('close', () => {
      events.push('close');
      settle();
    });
    client.on('offline', () => events.push('offline'));
    client.on('end', () => events.push('end'));
  });
}
