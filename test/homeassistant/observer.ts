import { connectAsync, type MqttClient } from 'mqtt';

/** A Home Assistant stand-in on the broker: what is retained now, and every message as it came. */
export interface Observer {
  readonly client: MqttClient;
  /** The payload each topic holds now as far as this client saw (an empty payload removes it). */
  readonly current: Map<string, string>;
  /** Every message received, in order. */
  readonly log: { topic: string; payload: string; retain: boolean; qos: number }[];
  close(): Promise<void>;
}

export async function observe(url: string, filters: string[]): Promise<Observer> {
  const client = await connectAsync(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  const current = new Map<string, string>();
  const log: Observer['log'] = [];
  client.on('message', (topic, payload, packet) => {
    const text = payload.toString();
    log.push({ topic, payload: text, retain: packet.retain, qos: packet.qos });
    if (text === '') current.delete(topic);
    else current.set(topic, text);
  });
  await client.subscribeAsync(filters, { qos: 1 });
  return { client, current, log, close: () => client.endAsync() };
}

/** The retained topics under a filter-like prefix right now, read by a fresh subscription. */
export async function retainedUnder(url: string, filter: string): Promise<Map<string, string>> {
  const o = await observe(url, [filter]);
  // A message published after the subscription comes after its retained messages.
  const marker = `powerdeal-test/marker/${Math.random()}`;
  await o.client.subscribeAsync(marker, { qos: 1 });
  await o.client.publishAsync(marker, 'x', { qos: 1 });
  while (!o.log.some((m) => m.topic === marker)) await new Promise((r) => setTimeout(r, 20));
  await o.close();
  o.current.delete(marker);
  return o.current;
}
