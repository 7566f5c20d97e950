import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { termFilter, termTopic } from '../fallback/access.js';
import type { FallbackOptions } from '../link/fallback-options.js';
import type { Logger } from '../log/logger.js';
import { readTerm, termPayload } from '../protocol/fallback-term.js';
import { connectToken } from '../protocol/fallback-token.js';
import type { TradingKeys } from '../trading/keys.js';

/** `HOST:PORT` (IPv6 in brackets) as a host and a port. */
export function splitHostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(text.slice(at + 1)) };
}

/** Where the own link reaches the own broker: loopback when it listens on every address. */
function ownUrl(listen: { host: string; port: number }): string {
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return `mqtt://${host.includes(':') ? `[${host}]` : host}:${listen.port}`;
}

/**
 * The link's fallback from the config and the keys (docs/protocol.md "Fallback"), or why there is none:
 * it needs `fallback.enabled`, this home's key and the zone keyring (the tokens and the terms are signed
 * and checked with them), and at least one member with an endpoint. The broker module (aedes) is loaded
 * only when this home first leads.
 */
export function fallbackOptions(
  config: Config,
  keys: TradingKeys,
  clock: Clock,
  log: Logger,
): { options: FallbackOptions } | { off: string } {
  const f = config.fallback;
  const { signer, keyring } = keys;
  if (!f.enabled) return { off: 'fallback.enabled is false' };
  if (!signer || !keyring) return { off: 'no key or keyring: members prove who they are with them' };
  const endpoints = new Map([...(keyring.fallbacks ?? [])].filter(([home]) => keyring.members.has(home)));
  if (endpoints.size === 0) return { off: 'no member of the keyring has a fallback endpoint' };
  const listen = splitHostPort(f.listen);
  const self = config.home.id;
  const zone = keyring.zone;
  return {
    options: {
      afterMs: f.afterS * 1000,
      mayHost: f.host && endpoints.has(self),
      endpoints,
      ownUrl: ownUrl(listen),
      credentials: (leader, epoch) => ({
        username: self,
        password: connectToken(signer, {
          home: self,
          zone,
          leader,
          epoch,
          ts: clock.now(),
          nonce: randomUUID(),
        }),
      }),
      termTopic: (leader) => termTopic(zone, leader),
      termFilter: termFilter(zone),
      termPayload: (term) => termPayload(signer, { zone, ...term, ts: clock.now() }),
      readTerm(payload) {
        const t = readTerm(keyring, payload);
        return t ? { leader: t.leader, epoch: t.epoch, until: t.until } : null;
      },
      async startBroker(onEpoch) {
        const { startFallbackBroker } = await import('../fallback/broker.js');
        return startFallbackBroker({
          ...listen,
          keyring,
          self,
          now: () => clock.now(),
          log,
          onEpoch,
        });
      },
    },
  };
}
