import type { Config } from '../config/schema.js';
import type { ServiceStatus } from './status.js';
import type { TodayEnergy } from './web-readings.js';
import type { RelayView } from './web-relays.js';
import type { OfferView, TradeView } from './web-trades.js';
import type { Warning } from './web-watch.js';

/** `/api/status` and the page's first event: the service status plus what the page shows around it. */
export interface PageStatus extends ServiceStatus {
  today: TodayEnergy;
  relays: RelayView[];
  warnings: Warning[];
  trades: TradeView[];
  offers: OfferView[];
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
