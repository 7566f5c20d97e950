/**
 * The topics of Home Assistant discovery for one home (docs/home-assistant.md). Discovery configs live
 * under the configured prefix, `<prefix>/<component>/<node>/<key>/config`; the home's state, availability
 * and commands under `powerdeal/ha/<zone>/<home>/`, apart from the zone's `powerdeal/v1/` topics.
 * Zone, home and device ids follow the id rule (src/core/ids.ts), so none holds a wildcard or '/'.
 */
export interface HaTopics {
  /** The discovery node id: what groups this home's configs under the prefix. */
  readonly node: string;
  /** The home's availability: `online` retained while connected, `offline` as the will and on stop. */
  readonly availability: string;
  /** One retained JSON document with every value the entities show. */
  readonly state: string;
  /** Home Assistant's own birth and will (`online`/`offline`). */
  readonly haStatus: string;
  /** Every discovery config of this home, whatever its component. */
  readonly configFilter: string;
  /** Every command this home takes. */
  readonly commandFilter: string;
  config(component: string, key: string): string;
  /** A relay switch's command topic (`ON`/`OFF`). */
  relaySet(relay: string): string;
  /** A relay mode select's command topic (`auto`/`on`/`off`). */
  relayMode(relay: string): string;
  /** Reads a command topic: which relay and which of the two commands, or null. */
  parseCommand(topic: string): { relay: string; kind: 'set' | 'mode' } | null;
}

export function haTopics(prefix: string, home: { zone: string; id: string }): HaTopics {
  const node = `powerdeal_${home.zone}_${home.id}`.replaceAll('-', '_');
  const base = `powerdeal/ha/${home.zone}/${home.id}`;
  const commandRe = new RegExp(`^${base}/relay/([a-z0-9-]+)/(set|mode)$`);
  return {
    node,
    availability: `${base}/availability`,
    state: `${base}/state`,
    haStatus: `${prefix}/status`,
    configFilter: `${prefix}/+/${node}/+/config`,
    commandFilter: `${base}/relay/+/+`,
    config: (component, key) => `${prefix}/${component}/${node}/${key}/config`,
    relaySet: (relay) => `${base}/relay/${relay}/set`,
    relayMode: (relay) => `${base}/relay/${relay}/mode`,
    parseCommand(topic) {
      const m = commandRe.exec(topic);
      return m ? { relay: m[1] as string, kind: m[2] as 'set' | 'mode' } : null;
    },
  };
}
