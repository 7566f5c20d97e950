import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { listenOn } from '../core/listen.js';

/**
 * An in-process MQTT broker for the demo and for a home with no broker configured yet. It speaks MQTT
 * 3.1.1 only, so it also exercises the link's fallback from v5. Not for production: no persistence.
 */
export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  /** Every message published through the broker, counted by topic (the demo shows it). */
  readonly published: Map<string, number>;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(port = 0, host = '127.0.0.1'): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const published = new Map<string, number>();
  broker.on('publish', (packet, client) => {
    if (client) published.set(packet.topic, (published.get(packet.topic) ?? 0) + 1);
  });
  const server: Server = createServer(broker.handle);
  await listenOn(server, { port, host });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `mqtt://${host}:${bound}`,
    port: bound,
    published,
    close: async () => {
      server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
