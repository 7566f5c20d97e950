import { connect, type MqttClient } from 'mqtt';
import { TOPIC_ROOT } from '../../src/protocol/topics.js';

/**
 * The zone benchmark's accounting: an optional observer that subscribes to the whole zone (as an
 * aggregator would), and the exact check of who received which envelope id against who should have.
 */

export class Observer {
  /** Envelope ids taken, duplicates included (audit only). */
  readonly ids: string[] = [];
  /** Messages taken by type, duplicates included. */
  readonly byType: Record<string, number> = {};
  private constructor(private readonly client: MqttClient) {}

  static async open(url: string, zone: string, ignoreFrom: string, audit: boolean): Promise<Observer> {
    const client = connect(url, {
      protocolVersion: 5,
      clientId: `bench-observer-${zone}`,
      reconnectPeriod: 0,
    });
    client.on('error', () => {});
    const o = new Observer(client);
    client.on('message', (_topic, payload) => {
      if (payload.length === 0) return;
      let env: { id?: string; type?: string; from?: string };
      try {
        env = JSON.parse(payload.toString('utf8')) as typeof env;
      } catch {
        return;
      }
      if (env.type === 'status' || env.from === ignoreFrom || typeof env.type !== 'string') return;
      o.byType[env.type] = (o.byType[env.type] ?? 0) + 1;
      if (audit && typeof env.id === 'string') o.ids.push(env.id);
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(`${TOPIC_ROOT}/${zone}/#`, { qos: 1 });
    return o;
  }

  total(): number {
    return Object.values(this.byType).reduce((s, n) => s + n, 0);
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

export interface AuditResult {
  /** (message, receiver) pairs that should have arrived and did not. */
  missing: number;
  /** Messages a home took that were not meant for it. */
  unexpected: number;
  /** Copies taken again with an id already taken (after the link's own dedupe, for a link home). */
  duplicates: number;
  /** Pairs checked. */
  expected: number;
  observer?: { expected: number; missing: number; unexpected: number; duplicates: number };
  examples: string[];
}

/**
 * `sent[h]`: [id, target] of each message home h sent ('*': every other home, a home id: that home's
 * inbox, '': no home); `received[h]`: each id home h took.
 */
export function audit(
  homes: string[],
  sent: [string, string][][],
  received: string[][],
  observerIds?: string[],
): AuditResult {
  const index = new Map(homes.map((id, i) => [id, i]));
  const expected = homes.map(() => new Set<string>());
  const all = new Set<string>();
  sent.forEach((list, s) => {
    for (const [id, target] of list) {
      all.add(id);
      if (target === '*') {
        for (const [r, set] of expected.entries()) if (r !== s) set.add(id);
      } else if (target !== '') expected[index.get(target)!]!.add(id);
    }
  });
  const examples: string[] = [];
  const note = (what: string) => examples.length < 10 && examples.push(what);
  const result: AuditResult = { missing: 0, unexpected: 0, duplicates: 0, expected: 0, examples };
  received.forEach((ids, r) => {
    const want = expected[r]!;
    result.expected += want.size;
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) {
        result.duplicates++;
        note(`${homes[r]} took ${id} again`);
      } else if (!want.has(id)) {
        result.unexpected++;
        note(`${homes[r]} took ${id}, not meant for it`);
      }
      seen.add(id);
    }
    for (const id of want) {
      if (!seen.has(id)) {
        result.missing++;
        note(`${homes[r]} never took ${id}`);
      }
    }
  });
  if (observerIds) {
    const seen = new Set<string>();
    const o = { expected: all.size, missing: 0, unexpected: 0, duplicates: 0 };
    for (const id of observerIds) {
      if (seen.has(id)) o.duplicates++;
      else if (!all.has(id)) o.unexpected++;
      seen.add(id);
    }
    for (const id of all) if (!seen.has(id)) o.missing++;
    result.observer = o;
  }
  return result;
}
