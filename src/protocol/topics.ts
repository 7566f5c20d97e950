import { isValidId } from '../core/ids.js';

/**
 * MQTT topics (docs/protocol.md). Every topic is `powerdeal/v1/{zone}/{home}/{kind}`. Zone and home ids
 * follow the id rule of src/core/ids.ts, so they can never contain the MQTT wildcards or '/'.
 */
export const TOPIC_ROOT = 'powerdeal/v1';

export const TOPIC_KINDS = ['status', 'telemetry', 'offer', 'requests', 'inbox', 'trades'] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];

function checkId(what: string, s: string): string {
  if (!isValidId(s)) throw new RangeError(`${what} "${s}" is not a valid topic id`);
  return s;
}

export function homeTopic(zone: string, home: string, kind: TopicKind): string {
  return `${TOPIC_ROOT}/${checkId('zone', zone)}/${checkId('home', home)}/${kind}`;
}

/** Every home's retained offer in a zone. */
export function zoneOffersFilter(zone: string): string {
  return `${TOPIC_ROOT}/${checkId('zone', zone)}/+/offer`;
}

/** Every home's offer requests in a zone (not retained). */
export function zoneRequestsFilter(zone: string): string {
  return `${TOPIC_ROOT}/${checkId('zone', zone)}/+/requests`;
}

/**
 * The kinds a home publishes under its own id: its status (and last will), telemetry, offer, offer
 * requests and the copy of its trades and settlements. Everything else it sends goes to a neighbour's
 * `inbox`.
 */
export const OWN_PUBLISHED_KINDS = [
  'status',
  'telemetry',
  'offer',
  'requests',
  'trades',
] as const satisfies readonly TopicKind[];

/** The client id of a home's persistent session unless config `mqtt.clientId` names another. */
export function defaultClientId(home: string): string {
  return `powerdeal-${home}`;
}

/**
 * The filters a home's link subscribes to: its own inbox, every offer and offer request of its zone, and
 * its own status (how the link notices a late will that overwrote `online`).
 */
export function homeSubscriptions(zone: string, home: string): string[] {
  return [
    homeTopic(zone, home, 'inbox'),
    zoneOffersFilter(zone),
    zoneRequestsFilter(zone),
    homeTopic(zone, home, 'status'),
  ];
}

export interface ParsedTopic {
  zone: string;
  home: string;
  kind: TopicKind;
}

export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return null;
  const [, , zone, home, kind] = parts as [string, string, string, string, string];
  if (!isValidId(zone) || !isValidId(home)) return null;
  if (!(TOPIC_KINDS as readonly string[]).includes(kind)) return null;
  return { zone, home, kind: kind as TopicKind };
}
