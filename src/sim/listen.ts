import { createServer, type Socket } from 'node:net';
import { listenOn } from '../core/listen.js';

export interface Listener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP listener that hands each connection to `onSocket` and, on close, drops every open connection. */
export async function listen(
  host: string,
  port: number,
  onSocket: (socket: Socket) => void,
): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    // A peer that resets the connection must not take the simulator down.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await listenOn(server, { port, host });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('listener has no TCP address');
  return {
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
