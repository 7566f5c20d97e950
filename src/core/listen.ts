import type { Server } from 'node:net';

/**
 * Binds a server (net or http) on a TCP address or a unix socket path and resolves once it listens;
 * rejects with the bind error (address in use, no permission) instead of leaving it to an 'error' event
 * nobody awaits.
 */
export function listenOn(
  server: Server,
  address: { port: number; host: string } | { path: string },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
