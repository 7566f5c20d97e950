import mqtt, { type MqttClient } from 'mqtt';
import { bridgeStateTopic, type MosquittoBridgePair } from '../../scripts/brokers/mosquitto-bridge.js';
import { waitFor } from './ports.js';

/**
 * Test side of scripts/brokers/mosquitto-bridge.ts: start a pair there, call
 * disposeAllMosquittoBridges() in afterAll, and follow the bridge's own state with watchBridge().
 */
export {
  disposeAllMosquittoBridges,
  type MosquittoBridgePair,
  startMosquittoBridgePair,
} from '../../scripts/brokers/mosquitto-bridge.js';

export interface BridgeWatch {
  /** The last state B published for its bridge: '1' connected, '0' not, undefined before any. */
  state(): string | undefined;
  /** Resolves once the bridge is up (true) or down (false). */
  until(up: boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Follows B's retained notification topic for the bridge (B publishes it locally on every change). */
export async function watchBridge(pair: MosquittoBridgePair): Promise<BridgeWatch> {
  const client: MqttClient = await mqtt.connectAsync(pair.b.url, {
    clientId: `pd-bridge-watch-${process.pid}`,
    reconnectPeriod: 0,
  });
  let state: string | undefined;
  client.on('message', (_topic, payload) => {
    state = payload.toString();
  });
  await client.subscribeAsync(bridgeStateTopic(pair.name), { qos: 1 });
  return {
    state: () => state,
    async until(up, timeoutMs = 15_000) {
      await waitFor(() => state === (up ? '1' : '0'), timeoutMs, `bridge ${up ? 'up' : 'down'}`, 20);
    },
    close: () => client.endAsync(true),
  };
}
