import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';

/** A JSON route: returns the body, or undefined for 404. `status` lets probes answer 503. */
export type Route = (req: IncomingMessage, url: URL) => { status?: number; body: unknown } | undefined;

export interface WebContext {
  listen: string;
  log: Logger;
  routes: Record<string, Route>;
}

/**
 * The local HTTP surface: read-only JSON for the CLI, probes and the status page. Listens on loopback
 * unless configured otherwise; nothing here changes state.
 */
export class WebServer {
  private server: Server | undefined;
  private boundPort: number | undefined;

  constructor(private readonly ctx: WebContext) {}

  get port(): number | undefined {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const [host, port] = splitHostPort(this.ctx.listen);
    const server = createServer((req, res) => this.handle(req, res));
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : port;
    this.server = server;
    this.ctx.log.info({ listen: `${host}:${this.boundPort}` }, 'web listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, { error: 'read-only: only GET is served' });
    }
    const route = this.ctx.routes[url.pathname];
    try {
      const result = route?.(req, url);
      if (!result) return send(res, 404, { error: `no such path: ${url.pathname}` });
      send(res, result.status ?? 200, result.body);
    } catch (err) {
      this.ctx.log.error({ err, path: url.pathname }, 'web route failed');
      send(res, 500, { error: 'internal error' });
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function splitHostPort(listen: string): [string, number] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), Number(listen.slice(i + 1))];
}
