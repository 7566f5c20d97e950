import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { HomeAssistantConfig } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';

/** Waits between attempts to reach the Home Assistant broker (mqtt.js reconnects by itself). */
const RECONNECT_MS = 5_000;

/**
 * A client for the Home Assistant broker: MQTT 3.1.1 (Home Assistant's default), a clean session, the
 * password read from its file at start, reconnecting by itself. A broker that is away is logged once
 * per outage, not at every attempt.
 */
export function connectHomeAssistant(
  ha: HomeAssistantConfig & { broker: string },
  home: { id: string },
  log: Logger,
  will?: { topic: string; payload: string },
): MqttClient {
  const opts: IClientOptions = {
    protocolVersion: 4,
    clientId: `powerdeal-ha-${home.id}`,
    clean: true,
    reconnectPeriod: RECONNECT_MS,
    // The bridge subscribes again itself once it has announced the entities on each connection.
    resubscribe: false,
    writeCache: false,
  };
  if (ha.username !== undefined) opts.username = ha.username;
  // Only the final line break is dropped: a password may start or end with spaces.
  if (ha.passwordFile !== undefined)
    opts.password = readFileSync(ha.passwordFile, 'utf8').replace(/\r?\n$/, '');
  if (will) opts.will = { ...will, qos: 1, retain: true };
  const client = connect(ha.broker, opts);
  let away = false;
  client.on('error', (err) => {
    if (away) return;
    away = true;
    log.warn(
      { err: errorText(err), broker: ha.broker },
      'homeassistant: broker unreachable; trying again every 5 s',
    );
  });
  client.on('connect', () => {
    if (away) log.info({ broker: ha.broker }, 'homeassistant: broker reached');
    away = false;
  });
  return client;
}
