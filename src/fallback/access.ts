import type { Keyring } from '../protocol/keyring.js';
import { defaultClientId, TOPIC_ROOT } from '../protocol/topics.js';
import { homeAccess } from '../setup/broker-acl.js';

/**
 * What a member may do on the fallback broker: exactly what the upstream broker's access rules let it do
 * (docs/brokers.md, derived from the keyring the same way): publish on its own topics and its neighbours'
 * inboxes, read its inbox, its status and the zone's offers and offer requests; and read the zone's
 * announced terms (term.ts). Pure.
 */
export interface ZoneAccess {
  mayPublish(home: string, topic: string): boolean;
  maySubscribe(home: string, filter: string): boolean;
  /** The client id is this home's own (its session name, optionally with a suffix). */
  ownsClientId(home: string, clientId: string): boolean;
}

/** Where the leader announces its term (retained, published by the broker itself, never by a client). */
export function termTopic(zone: string, leader: string): string {
  return `${TOPIC_ROOT}/${zone}/${leader}/term`;
}

export function termFilter(zone: string): string {
  return `${TOPIC_ROOT}/${zone}/+/term`;
}

export function zoneAccess(keyring: Keyring): ZoneAccess {
  const rules = new Map(
    homeAccess({ zone: keyring.zone, homes: [...keyring.members.keys()] }).map((a) => [
      a.home,
      { publish: new Set(a.publish), subscribe: new Set([...a.subscribe, termFilter(keyring.zone)]) },
    ]),
  );
  return {
    mayPublish: (home, topic) => rules.get(home)?.publish.has(topic) ?? false,
    maySubscribe: (home, filter) => rules.get(home)?.subscribe.has(filter) ?? false,
    ownsClientId(home, clientId) {
      const own = defaultClientId(home);
      return clientId === own || clientId.startsWith(`${own}-`);
    },
  };
}
