import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { freePort } from './ports.js';

/**
 * A TCP front for a real mosquitto that behaves like a broker without MQTT 5 (RabbitMQ before 3.13): it
 * reads the first CONNECT and closes the socket, without a CONNACK, when its protocol level is 5; any
 * other connection is passed through to the broker unchanged.
 */
export interface Mqtt311Proxy {
  readonly url: string;
  /** Connections closed because they asked for MQTT 5. */
  readonly refusedV5: number;
  close(): Promise<void>;
}

/** The protocol level of a CONNECT packet, once enough bytes are there; null while incomplete. */
function connectLevel(buf: Buffer): number | null {
  let i = 1;
  // Remaining length: a varint of 1 to 4 bytes.
  while (i < buf.length && i <= 4 && (buf[i]! & 0x80) !== 0) i++;
  i++;
  if (buf.length < i + 2) return null;
  const nameLength = buf.readUInt16BE(i);
  const levelAt = i + 2 + nameLength;
  return buf.length > levelAt ? buf[levelAt]! : null;
}

export async function startMqtt311Proxy(brokerPort: number): Promise<Mqtt311Proxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let refusedV5 = 0;
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const level = connectLevel(head);
      if (level === null) return;
      client.off('data', onData);
      if (level === 5) {
        refusedV5++;
        client.destroy();
        return;
      }
      const upstream = tcpConnect({ port: brokerPort, host: '127.0.0.1' });
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    };
    client.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    get refusedV5() {
      return refusedV5;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
