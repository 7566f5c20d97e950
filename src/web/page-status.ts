import type { Config } from '../config/schema.js';
import type { RelayView } from '../views/relays.js';
import type { ServiceStatus } from '../views/status.js';
import type { TradeCounts } from './metrics.js';
import type { TodayEnergy } from './readings.js';
import type { Warning } from './watch.js';

/**
 * The trade book as the page reads it: offers and trades since a time, newest first, and the totals.
 * The trading module's book fits it; its item types are in src/views/trades.ts.
 */
export interface TradeBookReader<Trade = object, Offer = object> {
  trades(since: number): Trade[];
  offers(since: number): Offer[];
  totals(): TradeCounts;
}

/**
 * `/api/status` and the page's first event: the service status plus what the page shows around it.
 * The parameters are the trading section's and the trade book's item types (the page only passes them on).
 */
export interface PageStatus<Trading = unknown, Trade = object, Offer = object>
  extends ServiceStatus<Trading> {
  today: TodayEnergy;
  relays: RelayView[];
  warnings: Warning[];
  trades: Trade[];
  offers: Offer[];
  config: PublicConfig;
  web: { stateChanges: boolean; eventClients: number; maxEventClients: number };
}

/** The configuration as shown to anyone who can read the page: no secret, no secret file's contents. */
export interface PublicConfig {
  cycleMs: number;
  devices: { id: string; profile: string; enabled: boolean }[];
  mqtt: {
    brokers: string[];
    username: string | null;
    /** Whether a password file is configured (its path and contents are not shown). */
    password: boolean;
    tls: boolean;
    telemetryIntervalMs: number;
  } | null;
  engine: Config['engine'];
  web: { listen: string };
}

export function publicConfig(config: Config): PublicConfig {
  return {
    cycleMs: config.cycleMs,
    devices: config.devices.map((d) => ({ id: d.id, profile: d.profile, enabled: d.enabled })),
    mqtt: config.mqtt
      ? {
          brokers: config.mqtt.brokers.map(withoutUserinfo),
          username: config.mqtt.username ?? null,
          password: config.mqtt.passwordFile !== undefined,
          tls: config.mqtt.brokers.some((b) => /^(mqtts|wss):/.test(b)),
          telemetryIntervalMs: config.mqtt.telemetryIntervalMs,
        }
      : null,
    engine: config.engine,
    web: { listen: config.web.listen },
  };
}

/** A broker URL may carry `user:password@`: never echo it. */
export function withoutUserinfo(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1');
}
