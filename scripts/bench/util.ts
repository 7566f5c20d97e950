import { createServer } from 'node:net';

/** Shared by the benchmarks. */

export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}
